// mime/addresses.hpp — ringmail::extract_addresses, the public face of the RFC 5322
// address-list parser in mime/: bare addresses out of a From/To/Cc value.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "mime/address_list.hpp"

namespace ringmail {

// 'you@there.com, "Bob" <bob@example.com>' gives {"you@there.com", "bob@example.com"}.
inline std::vector<std::string> extract_addresses(std::string_view header) {
    return mime::extract_addresses(header);
}

}  // namespace ringmail
