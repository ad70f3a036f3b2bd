// The checked entry points of ops::Backend: shapes and (op, dtype) pairs are validated here once
// for every backend, then the backend's run_* implementation runs.
#include "moai/ops/ops.h"

#include <string>

#include "moai/core/error.h"

namespace moai::ops {

const char* op_name(Op op) {
  switch (op) {
    case Op::kMatmul:
      return "matmul";
    case Op::kEmbeddingForward:
      return "embedding_forward";
    case Op::kEmbeddingBackward:
      return "embedding_backward";
    case Op::kRmsNormForward:
      return "rmsnorm_forward";
    case Op::kRmsNormBackward:
      return "rmsnorm_backward";
    case Op::kRopeForward:
      return "rope_forward";
    case Op::kRopeBackward:
      return "rope_backward";
    case Op::kAttentionForward:
      return "attention_forward";
    case Op::kAttentionBackward:
      return "attention_backward";
    case Op::kSwigluForward:
      return "swiglu_forward";
    case Op::kSwigluBackward:
      return "swiglu_backward";
    case Op::kAdd:
      return "add";
    case Op::kAccumulate:
      return "accumulate";
    case Op::kScale:
      return "scale";
    case Op::kClassifierLoss:
      return "classifier_loss";
    case Op::kAdamW:
      return "adamw_update";
    case Op::kSumSquares:
      return "sum_squares";
    case Op::kConvert:
      return "convert";
  }
  throw InternalError("op_name: unknown op " + std::to_string(int(op)));
}

const char* precision_name(Precision precision) {
  return precision == Precision::kBf16 ? "bf16" : "fp32";
}

Precision parse_precision(const std::string& text, const std::string& where) {
  if (text == "fp32" || text == "float32") return Precision::kFp32;
  if (text == "bf16" || text == "bfloat16") return Precision::kBf16;
  if (text == "fp16" || text == "float16")
    throw InputError(where + ": precision fp16 is not supported yet (use bf16 or fp32)");
  throw InputError(where + ": unknown precision '" + text + "', expected fp32 or bf16");
}

void Backend::require(Op op, DType dtype) const {
  if (!supports(op, dtype))
    throw InputError(name() + ": " + op_name(op) + " is not supported for dtype " +
                     dtype_name(dtype));
}

namespace {

[[noreturn]] void fail(Op op, const TensorView& view, const std::string& expected) {
  throw InputError(std::string(op_name(op)) + ": " + view.describe() + ", expected " + expected);
}

void expect_dtype(Op op, const TensorView& view, DType dtype) {
  if (view.dtype != dtype) fail(op, view, std::string("dtype ") + dtype_name(dtype));
}

// A weight operand has the compute dtype, or is fp32 under bf16 when the backend rounds fp32
// weights as it reads them (Backend::rounds_f32_weights).
void expect_weight_dtype(Op op, const TensorView& w, DType compute, bool f32_rounded) {
  if (w.dtype == DType::kF32 && compute == DType::kBF16 && f32_rounded) return;
  expect_dtype(op, w, compute);
}

void expect_rank(Op op, const TensorView& view, int rank) {
  if (view.rank != rank) fail(op, view, "rank " + std::to_string(rank));
}

void expect_numel(Op op, const TensorView& view, int64_t numel) {
  if (view.numel() != numel) fail(op, view, std::to_string(numel) + " elements");
}

void expect_at_least(Op op, const TensorView& view, int64_t numel) {
  if (view.numel() < numel) fail(op, view, "at least " + std::to_string(numel) + " elements");
}

// A 2-D view (or any view reshaped to rows of `cols`): its row count.
int64_t rows_of(Op op, const TensorView& view, int64_t cols) {
  if (cols <= 0 || view.numel() % cols != 0)
    fail(op, view, "rows of " + std::to_string(cols) + " elements");
  return view.numel() / cols;
}

}  // namespace

void Backend::copy(const TensorView& dst, const TensorView& src) {
  if (dst.dtype != src.dtype || dst.numel() != src.numel())
    throw InternalError("copy " + src.describe() + " to " + dst.describe());
  copy(dst.data, src.data, src.bytes());
}

void Backend::matmul(const TensorView& c, const TensorView& a, const TensorView& b, bool trans_a,
                     bool trans_b, float alpha, float beta) {
  const Op op = Op::kMatmul;
  require(op, a.dtype);
  expect_rank(op, a, 2);
  expect_rank(op, b, 2);
  expect_rank(op, c, 2);
  expect_weight_dtype(op, b, a.dtype, rounds_f32_weights());
  if (c.dtype != DType::kF32) expect_dtype(op, c, a.dtype);
  const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if ((trans_b ? b.dim(1) : b.dim(0)) != k)
    fail(op, b, "inner size " + std::to_string(k) + " (a is " + a.shape_string() + ")");
  if (c.dim(0) != m || c.dim(1) != n)
    fail(op, c, "[" + std::to_string(m) + ", " + std::to_string(n) + "]");
  run_matmul(c, a, b, m, n, k, trans_a, trans_b, alpha, beta);
}

void Backend::embedding_forward(const TensorView& out, const TensorView& ids,
                                const TensorView& table) {
  const Op op = Op::kEmbeddingForward;
  require(op, table.dtype);
  expect_rank(op, table, 2);
  expect_dtype(op, ids, DType::kI32);
  expect_dtype(op, out, table.dtype);
  expect_numel(op, out, ids.numel() * table.dim(1));
  run_embedding_forward(out, ids, table);
}

void Backend::embedding_backward(const TensorView& dtable, const TensorView& dout,
                                 const TensorView& ids) {
  const Op op = Op::kEmbeddingBackward;
  require(op, dout.dtype);
  expect_rank(op, dtable, 2);
  expect_dtype(op, ids, DType::kI32);
  expect_dtype(op, dtable, DType::kF32);
  expect_numel(op, dout, ids.numel() * dtable.dim(1));
  run_embedding_backward(dtable, dout, ids);
}

void Backend::rmsnorm_forward(const TensorView& out, const TensorView& rstd, const TensorView& inp,
                              const TensorView& weight, float eps) {
  const Op op = Op::kRmsNormForward;
  require(op, inp.dtype);
  expect_dtype(op, weight, DType::kF32);
  expect_dtype(op, rstd, DType::kF32);
  const int64_t n = rows_of(op, inp, weight.numel());
  expect_numel(op, rstd, n);
  expect_numel(op, out, inp.numel());
  run_rmsnorm_forward(out, rstd, inp, weight, eps);
}

void Backend::rmsnorm_backward(const TensorView& dinp, const TensorView& dweight,
                               const TensorView& dout, const TensorView& inp,
                               const TensorView& weight, const TensorView& rstd, bool accumulate) {
  const Op op = Op::kRmsNormBackward;
  require(op, inp.dtype);
  expect_dtype(op, weight, DType::kF32);
  expect_dtype(op, dweight, DType::kF32);
  expect_dtype(op, rstd, DType::kF32);
  const int64_t n = rows_of(op, inp, weight.numel());
  expect_numel(op, rstd, n);
  expect_numel(op, dweight, weight.numel());
  expect_numel(op, dout, inp.numel());
  expect_numel(op, dinp, inp.numel());
  run_rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, accumulate);
}

namespace {
void check_rope(Op op, const TensorView& x, const TensorView& positions, const TensorView& cos,
                const TensorView& sin) {
  expect_rank(op, x, 3);
  expect_dtype(op, positions, DType::kI32);
  expect_numel(op, positions, x.dim(0));
  expect_dtype(op, cos, DType::kF32);
  expect_dtype(op, sin, DType::kF32);
  if (x.dim(2) % 2 != 0) fail(op, x, "an even head_dim");
  expect_rank(op, cos, 2);
  if (cos.dim(1) != x.dim(2) / 2)
    fail(op, cos, "[positions, " + std::to_string(x.dim(2) / 2) + "]");
  expect_numel(op, sin, cos.numel());
}
}  // namespace

void Backend::rope_forward(const TensorView& x, const TensorView& position_ids,
                           const TensorView& cos, const TensorView& sin) {
  require(Op::kRopeForward, x.dtype);
  check_rope(Op::kRopeForward, x, position_ids, cos, sin);
  run_rope(x, position_ids, cos, sin, false);
}

void Backend::rope_backward(const TensorView& dx, const TensorView& position_ids,
                            const TensorView& cos, const TensorView& sin) {
  require(Op::kRopeBackward, dx.dtype);
  check_rope(Op::kRopeBackward, dx, position_ids, cos, sin);
  run_rope(dx, position_ids, cos, sin, true);
}

namespace {
void check_attention(Op op, const TensorView& out, const TensorView& lse, const TensorView& q,
                     const TensorView& k, const TensorView& v, const TensorView& segment_ids,
                     const AttentionShape& s) {
  if (s.kv_heads <= 0 || s.heads % s.kv_heads != 0 || s.q_len > s.kv_len)
    throw InputError(std::string(op_name(op)) + ": heads " + std::to_string(s.heads) +
                     ", kv_heads " + std::to_string(s.kv_heads) + ", q_len " +
                     std::to_string(s.q_len) + ", kv_len " + std::to_string(s.kv_len) +
                     ": expected heads divisible by kv_heads and q_len <= kv_len");
  const int64_t kv_row = s.kv_heads * s.head_dim;
  const int64_t stride = s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * kv_row;
  const int64_t q_elems = s.batch * s.q_len * s.heads * s.head_dim;
  const int64_t kv_elems = (s.batch - 1) * stride + s.kv_len * kv_row;
  for (const TensorView* view : {&out, &q}) {
    expect_dtype(op, *view, q.dtype);
    expect_at_least(op, *view, q_elems);
  }
  for (const TensorView* view : {&k, &v}) {
    expect_dtype(op, *view, q.dtype);
    expect_at_least(op, *view, kv_elems);
  }
  if (lse.present()) {
    expect_dtype(op, lse, DType::kF32);
    expect_at_least(op, lse, s.batch * s.heads * s.q_len);
  }
  if (segment_ids.present()) {
    expect_dtype(op, segment_ids, DType::kI32);
    expect_at_least(op, segment_ids, s.batch * s.kv_len);
  }
}
}  // namespace

void Backend::attention_forward(const TensorView& out, const TensorView& lse, const TensorView& q,
                                const TensorView& k, const TensorView& v,
                                const TensorView& segment_ids, const AttentionShape& shape) {
  require(Op::kAttentionForward, q.dtype);
  check_attention(Op::kAttentionForward, out, lse, q, k, v, segment_ids, shape);
  run_attention_forward(out, lse, q, k, v, segment_ids, shape);
}

void Backend::attention_backward(const TensorView& dq, const TensorView& dk, const TensorView& dv,
                                 const TensorView& dout, const TensorView& out,
                                 const TensorView& lse, const TensorView& q, const TensorView& k,
                                 const TensorView& v, const TensorView& segment_ids,
                                 const AttentionShape& shape) {
  const Op op = Op::kAttentionBackward;
  require(op, q.dtype);
  if (shape.q_len != shape.kv_len || shape.kv_batch_stride != 0 || !lse.present())
    throw InternalError("attention_backward: training shape (q_len == kv_len, no stride, lse)");
  check_attention(op, out, lse, q, k, v, segment_ids, shape);
  check_attention(op, dout, lse, dq, dk, dv, segment_ids, shape);
  run_attention_backward(dq, dk, dv, dout, out, lse, q, k, v, segment_ids, shape);
}

void Backend::swiglu_forward(const TensorView& out, const TensorView& gate, const TensorView& up) {
  const Op op = Op::kSwigluForward;
  require(op, gate.dtype);
  for (const TensorView* view : {&out, &up}) {
    expect_dtype(op, *view, gate.dtype);
    expect_numel(op, *view, gate.numel());
  }
  run_swiglu_forward(out, gate, up);
}

void Backend::swiglu_backward(const TensorView& dgate, const TensorView& dup,
                              const TensorView& dout, const TensorView& gate,
                              const TensorView& up) {
  const Op op = Op::kSwigluBackward;
  require(op, gate.dtype);
  for (const TensorView* view : {&dgate, &dup, &dout, &up}) {
    expect_dtype(op, *view, gate.dtype);
    expect_numel(op, *view, gate.numel());
  }
  run_swiglu_backward(dgate, dup, dout, gate, up);
}

void Backend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  require(Op::kAdd, out.dtype);
  for (const TensorView* view : {&a, &b}) {
    expect_dtype(Op::kAdd, *view, out.dtype);
    expect_numel(Op::kAdd, *view, out.numel());
  }
  run_add(out, a, b);
}

void Backend::accumulate(const TensorView& dst, const TensorView& src) {
  require(Op::kAccumulate, dst.dtype);
  expect_dtype(Op::kAccumulate, src, dst.dtype);
  expect_numel(Op::kAccumulate, src, dst.numel());
  run_accumulate(dst, src);
}

void Backend::scale(const TensorView& x, float factor) {
  require(Op::kScale, x.dtype);
  run_scale(x, factor);
}

void Backend::convert(const TensorView& dst, const TensorView& src) {
  require(Op::kConvert, dst.dtype != DType::kF32 ? dst.dtype : src.dtype);
  expect_numel(Op::kConvert, dst, src.numel());
  run_convert(dst, src);
}

void Backend::classifier_loss(const TensorView& losses, const TensorView& dx, const TensorView& dw,
                              const TensorView& x, const TensorView& w, const TensorView& labels,
                              const LossConfig& config, float grad_scale) {
  const Op op = Op::kClassifierLoss;
  require(op, x.dtype);
  expect_rank(op, w, 2);
  expect_weight_dtype(op, w, x.dtype, rounds_f32_weights());
  expect_dtype(op, losses, DType::kF32);
  expect_dtype(op, labels, DType::kI32);
  const int64_t n = rows_of(op, x, w.dim(1));
  expect_numel(op, losses, n);
  expect_numel(op, labels, n);
  if (dx.present()) {
    expect_dtype(op, dx, x.dtype);
    expect_numel(op, dx, x.numel());
    expect_dtype(op, dw, DType::kF32);
    expect_numel(op, dw, w.numel());
  }
  run_classifier_loss(losses, dx, dw, x, w, labels, config, grad_scale);
}

void Backend::adamw_update(const TensorView& param, const TensorView& m, const TensorView& v,
                           const TensorView& grad, const AdamWStep& step) {
  const Op op = Op::kAdamW;
  require(op, param.dtype);
  for (const TensorView* view : {&m, &v, &grad}) {
    expect_dtype(op, *view, DType::kF32);
    expect_numel(op, *view, param.numel());
  }
  run_adamw_update(param, m, v, grad, step);
}

double Backend::sum_squares(const TensorView& x) {
  require(Op::kSumSquares, x.dtype);
  return run_sum_squares(x);
}

void linear_forward(Backend& backend, const TensorView& out, const TensorView& inp,
                    const TensorView& weight, float beta) {
  backend.matmul(out, inp, weight, false, true, 1.0f, beta);
}

void linear_backward(Backend& backend, const TensorView& dinp, const TensorView& dweight,
                     const TensorView& dout, const TensorView& inp, const TensorView& weight,
                     bool accumulate_dinp) {
  if (dinp.present())
    backend.matmul(dinp, dout, weight, false, false, 1.0f, accumulate_dinp ? 1.0f : 0.0f);
  if (dweight.present()) backend.matmul(dweight, dout, inp, true, false, 1.0f, 1.0f);
}

}  // namespace moai::ops
