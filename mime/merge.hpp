// mime/merge.hpp — the email merge of the original web platform: "#Name#" markers in a
// text replaced by per-recipient values. Pure: a text and a map in, a text out.
// A marker whose name has no value is removed (left empty), as the original does.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace ringmail::mime {

using Tokens = std::map<std::string, std::string>;  // token name → value (UTF-8)

// A marker is '#', a name of 1 to 64 characters from [A-Za-z0-9_.-], '#'. Names match
// exactly, else in any case ("#firstname#" takes "FirstName"). Text that is no marker
// ("#1 and #2", "color:#fff;", "&#39;") is kept as it is.
// Each value is converted to `charset` first (empty or UTF-8: as given; a charset that
// cannot hold it: as given) and then encoded for a body in `transfer_encoding`:
// "quoted-printable" or "base64" (any case); anything else, e.g. empty: inserted as is.
std::string merge_tokens(std::string_view text, const Tokens& tokens, std::string_view charset = {},
                         std::string_view transfer_encoding = {});

// KumoMTA's (Jinja) variables: "{{ name }}" or "{{name}}", spaces or tabs inside the braces
// optional, the name as for "#Name#" markers and found the same way; a variable without a
// value becomes empty, as Jinja renders an undefined one. Values are inserted as given.
// Anything else in braces ("{{ a | upper }}", "{{{") is kept as it is: no template logic.
// With `markers_too` the text between them gets its "#Name#" markers filled in the same
// pass, so that no value is merged again.
std::string merge_variables(std::string_view text, const Tokens& tokens, bool markers_too = false);

// Whether `text` holds at least one marker (a message without any needs no merge).
bool has_tokens(std::string_view text) noexcept;

}  // namespace ringmail::mime
