// mime/header_fields.cpp — header section scan: "Name: value" lines, continuation lines
// start with WSP, unfolding removes the CRLF (RFC 5322 2.2.3). Bare LF is tolerated.
#include "mime/header_fields.hpp"

#include <algorithm>
#include <array>

#include "base/ascii.hpp"
namespace ringmail::mime {
namespace {

using base::iequals;

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

HeaderFields read_header_fields(std::string_view msg) {
    HeaderFields h;
    const std::array<std::pair<std::string_view, std::optional<std::string>*>, 5> wanted{{
        {"from", &h.from}, {"to", &h.to}, {"cc", &h.cc}, {"bcc", &h.bcc}, {"subject", &h.subject}}};
    std::optional<std::string>* current = nullptr;
    std::size_t pos = 0;
    while (pos < msg.size()) {
        std::size_t eol = msg.find('\n', pos);
        if (eol == std::string_view::npos) eol = msg.size();
        std::string_view line = msg.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // end of the header section
        if (line.front() == ' ' || line.front() == '\t') {
            if (current) current->value().append(line);
            continue;
        }
        current = nullptr;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = trim(line.substr(0, colon));
        for (auto& [key, slot] : wanted) {
            if (iequals(name, key) && !slot->has_value()) {
                slot->emplace(trim(line.substr(colon + 1)));
                current = slot;
            }
        }
    }
    for (auto& [key, slot] : wanted)
        if (slot->has_value()) slot->emplace(std::string(trim(**slot)));
    return h;
}

}  // namespace ringmail::mime
