// mime/address_list.hpp — RFC 5322 3.4 address lists: display names, quoted strings with
// commas and angle brackets, comments, groups ("undisclosed-recipients:;"), obsolete
// route syntax (4.4), UTF-8 local parts (RFC 6532). Best effort on broken input.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mime {

struct Address {
    std::string name;     // display name, RFC 2047-decoded; may be empty
    std::string address;  // bare addr-spec: local@domain
};

std::vector<Address> parse_address_list(std::string_view header);
// Bare addresses only: 'you@there.com, "Bob" <bob@example.com>' gives both addresses.
std::vector<std::string> extract_addresses(std::string_view header);

}  // namespace ringmail::mime
