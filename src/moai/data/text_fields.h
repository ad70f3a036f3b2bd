#pragma once
// Which fields of a JSON record hold the training text (the original's detection, inventory §2.3),
// and their extraction. simdjson types appear here, so only the readers include this header.
#include <simdjson.h>

#include <string>
#include <vector>

namespace moai::data {

// `preferred` if present as a non-empty string; else every non-empty string field of
// kTextFieldPriority in that order; else every string field longer than 10 characters (in record
// order). Empty if none.
std::vector<std::string> detect_text_fields(simdjson::dom::object record,
                                            const std::string& preferred);

// Joins the present, non-empty `fields` with a space into `out`. A field that is present but not a
// string (or null) throws BadRecord; a record with none of the fields throws BadRecord naming them.
void extract_text_fields(simdjson::dom::object record, const std::vector<std::string>& fields,
                         std::string& out);

// "a string", "an array", ... for messages.
std::string type_name(simdjson::dom::element element);

}  // namespace moai::data
