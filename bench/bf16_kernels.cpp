// bf16 matmul engines on the shapes of a training step and of decoding, printed as a Markdown table
// (GFLOP/s, median of 5 timed samples after a warm-up). Engines:
//   fp32-sgemm     the current fp32 path (Backend::matmul: BLAS, one block per OpenMP thread)
//   convert+sgemm  bf16 -> fp32 copies, then the same sgemm (cpu::Bf16GemmEngine::kConvertSgemm)
//   avx512-bf16    moai's own packed vdpbf16ps kernel (kAvx512Bf16)
//   onednn         oneDNN's matmul primitive, bf16 in, fp32 out, plain strided layouts (built only
//                  when cmake finds Debian's libdnnl-dev); its implementation name is printed.
// OpenBLAS picks its kernels at load time: run once plainly and once with
// OPENBLAS_CORETYPE=SKYLAKEX to see both (the core it chose is printed).
//
//   build/bench/bf16_kernels [--config a|b|all] [--threads 1,2] [--quick] [--cpu-time] [--fused]
// (--fused: the classifier + loss and attention table instead of the matmul one; the attention
// rows are the same bf16 code for both engine columns.)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "moai/ops/blas_kernels.h"
#include "moai/ops/cpu/bf16_attention.h"
#include "moai/ops/cpu/bf16_classifier.h"
#include "moai/ops/cpu/bf16_matmul.h"
#include "moai/ops/cpu/kernels.h"
#include "moai/ops/ops.h"

#if defined(MOAI_HAVE_DNNL)
#include <dnnl.hpp>
#endif

namespace {

using moai::ops::cpu::bf16;
using moai::ops::cpu::Bf16GemmEngine;

struct Shape {
  std::string name;
  int64_t m, n, k;
  bool trans_a, trans_b;
};

struct Config {
  std::string name;
  int64_t hidden, q_dim, kv_dim, ffn, vocab;
};

// Shapes of one training step at N = 2048 token rows (batch 8 x 256) and of one decode step (M =
// 1). A linear y = x W^T (W [out, in]) runs forward (N, out, in, W transposed), backward-data (N,
// in, out) and backward-weight (out, in, N, dout transposed). The classifier runs on 512-row
// chunks.
std::vector<Shape> shapes_for(const Config& c) {
  const int64_t rows = 2048, chunk = 512;
  struct Linear {
    const char* name;
    int64_t in, out;
  };
  const Linear linears[] = {{"q/o", c.hidden, c.q_dim},
                            {"k/v", c.hidden, c.kv_dim},
                            {"gate/up", c.hidden, c.ffn},
                            {"down", c.ffn, c.hidden}};
  std::vector<Shape> out;
  for (const Linear& l : linears) {
    out.push_back({std::string(l.name) + " fwd", rows, l.out, l.in, false, true});
    out.push_back({std::string(l.name) + " dx", rows, l.in, l.out, false, false});
    out.push_back({std::string(l.name) + " dW", l.out, l.in, rows, true, false});
  }
  out.push_back({"classifier fwd", chunk, c.vocab, c.hidden, false, true});
  out.push_back({"classifier dx", chunk, c.hidden, c.vocab, false, false});
  out.push_back({"classifier dW", c.vocab, c.hidden, chunk, true, false});
  out.push_back({"decode q", 1, c.q_dim, c.hidden, false, true});
  out.push_back({"decode k/v", 1, c.kv_dim, c.hidden, false, true});
  out.push_back({"decode gate/up", 1, c.ffn, c.hidden, false, true});
  out.push_back({"decode down", 1, c.hidden, c.ffn, false, true});
  out.push_back({"decode classifier", 1, c.vocab, c.hidden, false, true});
  return out;
}

// --cpu-time: seconds of process CPU time divided by the thread count instead of wall seconds (less
// sensitive to other jobs on a loaded machine; includes OpenMP's spin-waiting).
bool g_cpu_time = false;
int g_threads = 1;

double now() {
  if (!g_cpu_time)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec)) / g_threads;
}

// Median seconds per call over 5 samples; each sample repeats the call until it lasts >= 20 ms.
double time_call(const std::function<void()>& call) {
  call();
  int reps = 1;
  for (;;) {
    const double t0 = now();
    for (int i = 0; i < reps; ++i) call();
    if (now() - t0 >= 0.02 || reps >= (1 << 20)) break;
    reps *= 2;
  }
  std::vector<double> samples;
  for (int sample = 0; sample < 5; ++sample) {
    const double t0 = now();
    for (int i = 0; i < reps; ++i) call();
    samples.push_back((now() - t0) / reps);
  }
  std::sort(samples.begin(), samples.end());
  return samples[2];
}

#if defined(MOAI_HAVE_DNNL)
struct OneDnn {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};

  // Returns seconds per call and the implementation oneDNN chose.
  double time(const Shape& s, const bf16* a, const bf16* b, float* c, std::string& impl) {
    using dims = dnnl::memory::dims;
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc a_md({s.m, s.k}, dt::bf16, s.trans_a ? dims{1, s.m} : dims{s.k, 1});
    const dnnl::memory::desc b_md({s.k, s.n}, dt::bf16, s.trans_b ? dims{1, s.k} : dims{s.n, 1});
    const dnnl::memory::desc c_md({s.m, s.n}, dt::f32, dims{s.n, 1});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
    impl = pd.impl_info_str();
    const dnnl::matmul primitive(pd);
    dnnl::memory a_mem(a_md, engine, const_cast<bf16*>(a)),
        b_mem(b_md, engine, const_cast<bf16*>(b)), c_mem(c_md, engine, c);
    return time_call([&] {
      primitive.execute(stream,
                        {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
      stream.wait();
    });
  }
};
#endif

// --fused: the fused classifier + loss (fwd + bwd over N = 2048 rows) and one layer's attention
// (fwd + bwd, batch 8 x 256, causal) in fp32 (the backend) and bf16 (every bf16 engine), ms per
// call.
void fused_table(const std::vector<Config>& configs, const std::vector<int>& thread_counts) {
  using namespace moai::ops;
  std::printf(
      "| config | op | threads | fp32 ms | bf16 convert+sgemm ms | bf16 avx512-bf16 ms |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& v, float scale) {
    for (float& x : v) x = scale * normal(rng);
  };
  auto narrow = [](const std::vector<float>& v) {
    std::vector<bf16> out(v.size());
    cpu::to_bf16(out.data(), v.data(), int64_t(v.size()));
    return out;
  };
  for (const Config& c : configs) {
    const int64_t n = 2048, B = 8, T = 256, D = 64, H = c.q_dim / D, KV = c.kv_dim / D;
    std::vector<float> x(size_t(n * c.hidden)), w(size_t(c.vocab * c.hidden)),
        losses(static_cast<size_t>(n)), dx(x.size()), dw(w.size());
    fill(x, 1.0f);
    fill(w, 0.02f);
    std::vector<int32_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = int32_t((i * 7919) % c.vocab);
    const std::vector<bf16> xb = narrow(x), wb = narrow(w);
    std::vector<bf16> dxb(x.size());
    std::vector<float> q(size_t(B * T * H * D)), k(size_t(B * T * KV * D)), v(k.size()),
        out(q.size()), lse(size_t(B * H * T)), dq(q.size()), dk(k.size()), dv(k.size()),
        dout(q.size());
    fill(q, 1.0f);
    fill(k, 1.0f);
    fill(v, 1.0f);
    fill(dout, 1.0f);
    const std::vector<bf16> qb = narrow(q), kb = narrow(k), vb = narrow(v), doutb = narrow(dout);
    std::vector<bf16> outb(q.size()), dqb(q.size()), dkb(k.size()), dvb(k.size());
    const AttentionShape shape{B, T, T, H, KV, D, 0, 0.125f};
    for (const int threads : thread_counts) {
      auto backend = make_cpu_backend(threads);
      g_threads = threads;
      const LossConfig loss = LossConfig::cross_entropy();
      const double fp32_cls = time_call([&] {
        cpu::classifier_loss(losses.data(), dx.data(), dw.data(), x.data(), w.data(), labels.data(),
                             n, c.hidden, c.vocab, loss, 1.0f);
      });
      const Bf16GemmEngine engines[2] = {Bf16GemmEngine::kConvertSgemm,
                                         Bf16GemmEngine::kAvx512Bf16};
      // ms per engine with w as given: bf16, or the fp32 master of bf16 training (rounded to bf16
      // as the kernels pack it); 0 for an engine this CPU lacks.
      auto per_engine = [&](const auto* weights, double(&ms)[2]) {
        for (int e = 0; e < 2; ++e) {
          ms[e] = 0;
          if (engines[e] == Bf16GemmEngine::kAvx512Bf16 && !moai::ops::cpu_has_avx512_bf16())
            continue;
          ms[e] = 1e3 * time_call([&] {
                    cpu::bf16_classifier_loss(losses.data(), dxb.data(), dw.data(), xb.data(),
                                              weights, labels.data(), n, c.hidden, c.vocab, loss,
                                              1.0f, engines[e]);
                  });
        }
      };
      double bf16_cls[2], masters[2];
      per_engine(wb.data(), bf16_cls);
      per_engine(w.data(), masters);
      std::printf("| %s | classifier + CE fwd+bwd, N 2048, V %lld | %d | %.1f | %.1f | %.1f |\n",
                  c.name.c_str(), (long long)c.vocab, threads, 1e3 * fp32_cls, bf16_cls[0],
                  bf16_cls[1]);
      std::printf("| %s | the same, fp32 master w | %d | %.1f | %.1f | %.1f |\n", c.name.c_str(),
                  threads, 1e3 * fp32_cls, masters[0], masters[1]);
      const double fp32_att = time_call([&] {
        cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), nullptr,
                               shape);
        cpu::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(),
                                lse.data(), q.data(), k.data(), v.data(), nullptr, shape);
      });
      const double bf16_att = time_call([&] {
        cpu::bf16_attention_forward(outb.data(), lse.data(), qb.data(), kb.data(), vb.data(),
                                    nullptr, shape);
        cpu::bf16_attention_backward(dqb.data(), dkb.data(), dvb.data(), doutb.data(), outb.data(),
                                     lse.data(), qb.data(), kb.data(), vb.data(), nullptr, shape);
      });
      std::printf(
          "| %s | attention fwd+bwd, B8 T256 H%lld KV%lld D64 | %d | %.1f | %.1f | %.1f |\n",
          c.name.c_str(), (long long)H, (long long)KV, threads, 1e3 * fp32_att, 1e3 * bf16_att,
          1e3 * bf16_att);
      std::fflush(stdout);
    }
  }
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  moai::ops::match_blas_kernels(argv);
  std::string which = "all";
  std::vector<int> thread_counts = {1, 2};
  bool quick = false, fused = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc)
      which = argv[++i];
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      thread_counts = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--cpu-time"))
      g_cpu_time = true;
    else if (!std::strcmp(argv[i], "--fused"))
      fused = true;
    else {
      std::fprintf(
          stderr, "usage: %s [--config a|b|all] [--threads 1,2] [--quick] [--cpu-time] [--fused]\n",
          argv[0]);
      return 2;
    }
  }
  const Config configs[] = {{"a", 256, 256, 128, 768, 32000}, {"b", 512, 512, 128, 1536, 32000}};
  const moai::ops::BlasKernelInfo blas = moai::ops::blas_kernel_info();
  std::printf("BLAS kernels: %s (AVX-512: %s)\n", blas.description().c_str(),
              blas.avx512_core ? "yes" : "no");
  std::printf(
      "timing: %s\nAVX512-BF16: %s; auto engine: %s (training shapes), %s (M = 1)\n",
      g_cpu_time ? "process CPU time / threads" : "wall clock",
      moai::ops::cpu_has_avx512_bf16() ? "yes" : "no",
      moai::ops::cpu::bf16_gemm_engine_name(moai::ops::cpu::bf16_gemm_engine(2048, 256, 256)),
      moai::ops::cpu::bf16_gemm_engine_name(moai::ops::cpu::bf16_gemm_engine(1, 256, 256)));
  if (fused) {
    std::vector<Config> chosen;
    for (const Config& config : configs)
      if (which == "all" || which == config.name) chosen.push_back(config);
    fused_table(chosen, thread_counts);
    return 0;
  }
#if defined(MOAI_HAVE_DNNL)
  OneDnn onednn;
  std::printf(
      "| config | shape | M | N | K | threads | fp32-sgemm | convert+sgemm | avx512-bf16 | onednn "
      "| best | onednn impl |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
#else
  std::printf(
      "| config | shape | M | N | K | threads | fp32-sgemm | convert+sgemm | avx512-bf16 | best "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
#endif
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Config& config : configs) {
    if (which != "all" && which != config.name) continue;
    for (const Shape& s : shapes_for(config)) {
      if (quick && s.name.find("dx") != std::string::npos) continue;
      std::vector<float> a32(size_t(s.m * s.k)), b32(size_t(s.k * s.n)), c(size_t(s.m * s.n));
      for (float& x : a32) x = normal(rng);
      for (float& x : b32) x = normal(rng);
      std::vector<bf16> a(a32.size()), b(b32.size());
      moai::ops::cpu::to_bf16(a.data(), a32.data(), int64_t(a.size()));
      moai::ops::cpu::to_bf16(b.data(), b32.data(), int64_t(b.size()));
      const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
      for (const int threads : thread_counts) {
        auto backend =
            moai::ops::make_cpu_backend(threads);  // sets the OpenMP team size, BLAS single
        g_threads = threads;
        std::vector<std::pair<std::string, double>> rates;
        rates.push_back({"fp32-sgemm", flops / time_call([&] {
                                         moai::ops::cpu::gemm(c.data(), a32.data(), b32.data(), s.m,
                                                              s.n, s.k, s.trans_a, s.trans_b, 1.0f,
                                                              0.0f);
                                       }) / 1e9});
        for (const Bf16GemmEngine engine :
             {Bf16GemmEngine::kConvertSgemm, Bf16GemmEngine::kAvx512Bf16}) {
          if (engine == Bf16GemmEngine::kAvx512Bf16 && !moai::ops::cpu_has_avx512_bf16()) {
            rates.push_back({"avx512-bf16", 0.0});
            continue;
          }
          rates.push_back({moai::ops::cpu::bf16_gemm_engine_name(engine),
                           flops / time_call([&] {
                             moai::ops::cpu::bf16_gemm(c.data(), a.data(), b.data(), s.m, s.n, s.k,
                                                       s.trans_a, s.trans_b, 1.0f, 0.0f, engine);
                           }) / 1e9});
        }
        std::string impl;
#if defined(MOAI_HAVE_DNNL)
        rates.push_back(
            {"onednn", flops / onednn.time(s, a.data(), b.data(), c.data(), impl) / 1e9});
#endif
        // The winner among the bf16 engines (fp32-sgemm is the baseline, not a bf16 engine).
        const auto best =
            std::max_element(rates.begin() + 1, rates.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        std::printf("| %s | %s | %lld | %lld | %lld | %d |", config.name.c_str(), s.name.c_str(),
                    (long long)s.m, (long long)s.n, (long long)s.k, threads);
        for (const auto& [name, rate] : rates) std::printf(" %.1f |", rate);
        std::printf(" %s |", best->first.c_str());
#if defined(MOAI_HAVE_DNNL)
        std::printf(" %s |", impl.c_str());
#endif
        std::printf("\n");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
