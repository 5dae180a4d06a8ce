// fuzz/fuzz_mime_codecs.cpp — base64 and quoted-printable: decode(encode(x)) == x, the
// tolerant decoders take any bytes without reading out of bounds, and streaming them in
// two pieces gives what decoding the whole does.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "mime/base64.hpp"
#include "mime/quoted_printable.hpp"

using ringmail::fuzz::check;
namespace mime = ringmail::mime;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t cut = in.empty() ? 0 : data[0] % in.size();

    check(mime::base64_decode(mime::base64_encode(in)) == in, "base64 round trip");
    check(mime::qp_decode(mime::qp_encode(in, true)) == in, "quoted-printable round trip (binary)");

    const std::string b64 = mime::base64_decode(in);
    check(b64.size() <= in.size(), "base64 decode grew");
    mime::Base64Decoder bd;
    std::string b64s;
    bd.feed(in.substr(0, cut), b64s);
    bd.feed(in.substr(cut), b64s);
    bd.finish(b64s);
    check(b64s == b64, "base64 decode depends on the split");

    const std::string qp = mime::qp_decode(in);
    check(qp.size() <= in.size(), "quoted-printable decode grew");
    mime::QpDecoder qd;
    std::string qps;
    qd.feed(in.substr(0, cut), qps);
    qd.feed(in.substr(cut), qps);
    qd.finish(qps);
    check(qps == qp, "quoted-printable decode depends on the split");
    return 0;
}
