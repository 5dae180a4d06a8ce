// fuzz/fuzz_mime_headers.cpp — header-value parsers on hostile input: extract_addresses
// and parse_address_list agree, RFC 2047 decoding and RFC 2231 parameters always yield
// valid UTF-8, and encoding a decoded value decodes back to it.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "mime/address_list.hpp"
#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"
#include "mime/header_params.hpp"

using ringmail::fuzz::check;
namespace mime = ringmail::mime;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    const auto list = mime::parse_address_list(in);
    const auto bare = mime::extract_addresses(in);
    check(list.size() == bare.size(), "extract_addresses and parse_address_list disagree");
    for (std::size_t i = 0; i < list.size(); ++i)
        check(list[i].address == bare[i], "extract_addresses and parse_address_list disagree");

    const std::string decoded = mime::decode_header_value(in);
    check(mime::is_valid_utf8(decoded), "decoded header value is not UTF-8");
    check(mime::decode_header_value(mime::encode_header_value(decoded)) == decoded, "RFC 2047 round trip");

    const mime::HeaderParams p = mime::parse_header_params(in);
    for (const auto& [name, value] : p.params) check(mime::is_valid_utf8(value), "parameter is not UTF-8");
    return 0;
}
