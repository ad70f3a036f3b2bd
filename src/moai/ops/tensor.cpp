#include "moai/ops/tensor.h"

#include "moai/core/error.h"

namespace moai::ops {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kF64:
      return 8;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kU8:
      return 1;
  }
  throw InternalError("dtype_size: unknown dtype " + std::to_string(int(dtype)));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kF64:
      return "F64";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kU8:
      return "U8";
  }
  throw InternalError("dtype_name: unknown dtype " + std::to_string(int(dtype)));
}

std::string TensorView::shape_string() const {
  std::string out = "[";
  for (int dim = 0; dim < rank; ++dim) out += (dim ? ", " : "") + std::to_string(shape[dim]);
  return out + "]";
}

}  // namespace moai::ops
