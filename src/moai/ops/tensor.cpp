#include "moai/ops/tensor.h"

#include "moai/core/error.h"

namespace moai::ops {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
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

std::string TensorView::describe() const {
  return std::string(name.empty() ? "tensor" : name) + " " + dtype_name(dtype) + " " +
         shape_string();
}

void TensorView::check_dtype(DType expected) const {
  if (dtype != expected) throw InternalError(describe() + " read as " + dtype_name(expected));
}

TensorView TensorView::reshaped(std::initializer_list<int64_t> dims) const {
  TensorView out = make_view(data, dtype, dims, name);
  out.device = device;
  if (out.numel() != numel())
    throw InternalError("reshape of " + describe() + " to " + out.shape_string());
  return out;
}

TensorView make_view(void* data, DType dtype, std::initializer_list<int64_t> dims,
                     std::string_view name) {
  if (dims.size() > size_t(kMaxRank))
    throw InternalError("tensor view of rank " + std::to_string(dims.size()));
  TensorView out;
  out.name = name;
  out.dtype = dtype;
  out.data = data;
  out.rank = int(dims.size());
  int index = 0;
  for (int64_t dim : dims) out.shape[size_t(index++)] = dim;
  return out;
}

TensorView Buffer::view(std::initializer_list<int64_t> dims, std::string_view name) const {
  return make_view(data, dtype, dims, name);
}

}  // namespace moai::ops
