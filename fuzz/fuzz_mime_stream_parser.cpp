// fuzz/fuzz_mime_stream_parser.cpp — the MIME parser on hostile messages: a split chosen
// by the fuzzer must not change the result (invariant 3), and the output stays bounded
// by the input (decoding never grows bytes; charset conversion at most triples them).
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "mime/stream_parser.hpp"

using ringmail::fuzz::check;
using ringmail::mime::ParsedMail;

namespace {

std::size_t output_size(const ParsedMail& m) {
    std::size_t n = m.message.size();
    for (const auto& [name, a] : m.attachments) n += a.data.size();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t cut = data[0] % in.size();
    const ParsedMail whole = ringmail::mime::parse_message(in);
    ringmail::mime::StreamParser p;
    p.feed({in.data(), cut});
    p.feed({in.data() + cut, in.size() - cut});
    const ParsedMail split = p.finish();
    check(whole.message == split.message, "message depends on the split");
    check(whole.message_is_html == split.message_is_html, "body type depends on the split");
    check(whole.subject == split.subject && whole.from == split.from, "headers depend on the split");
    check(whole.attachments.size() == split.attachments.size(), "attachments depend on the split");
    for (const auto& [name, a] : whole.attachments) {
        auto it = split.attachments.find(name);
        check(it != split.attachments.end() && it->second.data == a.data, "attachment depends on the split");
    }
    check(output_size(whole) <= 3 * in.size() + 16, "output not bounded by input");
    return 0;
}
