// The one-row matmul (decode's matrix-vector product) against a naive double product, through the
// Backend interface: beta 0 and beta 1 (a residual add), row counts around the 4-row blocking.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "moai/ops/ops.h"

namespace moai::ops {
namespace {

TEST(Matvec, OneRowMatmulMatchesNaiveProduct) {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t rows : {1, 3, 4, 7, 130, 4099}) {
    for (float beta : {0.0f, 1.0f}) {
      const int64_t cols = rows > 1000 ? 21 : 37;
      std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(cols)),
          y(static_cast<size_t>(rows));
      for (auto& v : w) v = u(gen);
      for (auto& v : x) v = u(gen);
      for (auto& v : y) v = u(gen);
      const std::vector<float> before = y;
      backend->matmul(view(y.data(), {1, rows}), view(x.data(), {1, cols}),
                      view(w.data(), {rows, cols}), false, true, 1.0f, beta);
      for (int64_t r = 0; r < rows; ++r) {
        double want = beta * double(before[size_t(r)]);
        for (int64_t k = 0; k < cols; ++k) want += double(w[size_t(r * cols + k)]) * x[size_t(k)];
        ASSERT_NEAR(y[size_t(r)], want, 1e-5) << rows << " rows, beta " << beta << ", row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace moai::ops
