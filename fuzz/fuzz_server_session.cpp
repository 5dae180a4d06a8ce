// fuzz/fuzz_server_session.cpp — one split must not change the replies (invariant 3),
// and the limits hold (invariant 4): bounded buffering and output, delivered messages
// within size and recipient limits with CRLF line ends only, well-formed replies.
// Input: byte 0 picks the cut, the rest is what the client sends.
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const auto in = ringmail::fuzz::as_chars(data + 1, size - 1);
    const std::size_t cut = data[0] % in.size();
    if (ringmail::fuzz::replies(in, {}) != ringmail::fuzz::replies(in, {cut}))
        ringmail::fuzz::fail("a split changed the replies");
    // Byte-at-a-time is the hardest split for a parser; check it on short inputs.
    if (in.size() <= 512) {
        std::vector<std::size_t> every(in.size());
        for (std::size_t i = 0; i < every.size(); ++i) every[i] = i;
        if (ringmail::fuzz::replies(in, {}) != ringmail::fuzz::replies(in, every))
            ringmail::fuzz::fail("1-byte pieces changed the replies");
    }
    return 0;
}
