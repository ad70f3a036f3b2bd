// libFuzzer target: the Parquet reader on arbitrary bytes. Every input must either read or throw
// moai::Error (InputError for bad files); crashes, sanitizer reports, hangs and other exception
// types are bugs. Rows are capped per input so that a footer claiming billions of rows stays fast.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "moai/core/error.h"
#include "moai/data/parquet_reader.h"
#include "moai/data/record_reader.h"  // BadRecord

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moai::data::parquet;
  try {
    auto file = ParquetFile::from_bytes(std::string_view(reinterpret_cast<const char*>(data), size),
                                        "fuzz.parquet");
    (void)file->string_fields();
    RowReader rows(file, file->leaves_of({}));
    nlohmann::ordered_json row;
    for (int i = 0; i < 4096; ++i) {
      try {
        if (!rows.next(row)) break;
        (void)row.dump();
      } catch (const moai::data::BadRecord&) {
      }
    }
  } catch (const moai::Error&) {
  }
  return 0;
}
