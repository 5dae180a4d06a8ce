// bench/codec_bench.cpp — mime/ codecs alone, MB/s of their input: base64 decode of a
// 10 MiB attachment as mail carries it (76 columns, CRLF), base64 encode, quoted-printable
// decode and encode of a long HTML body, and a memcpy of the base64 input as the ceiling.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>

#include "mime/base64.hpp"
#include "mime/quoted_printable.hpp"

namespace ringmail::bench {
namespace {

constexpr std::size_t kAttachment = 10 * 1024 * 1024;

const std::string& binary() {
    static const std::string b = [] {
        std::mt19937_64 rng(2045);
        std::string s(kAttachment, '\0');
        for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
            const std::uint64_t v = rng();
            std::memcpy(s.data() + i, &v, 8);
        }
        return s;
    }();
    return b;
}

const std::string& base64_text() {
    static const std::string t = mime::base64_encode(binary(), 76);
    return t;
}

// About 8 MiB of newsletter-like HTML: attributes (each '=' becomes "=3D"), long lines
// that need soft breaks, some UTF-8 text (8-bit bytes become "=C3=A9").
const std::string& html() {
    static const std::string h = [] {
        const std::string row =
            "<tr><td class=\"item\" style=\"padding:4px;color:#333\"><a href=\"https://example.com/"
            "product?id=1234&amp;ref=mail\">Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e</a> and "
            "a longer description of the offer that runs on for a while, as marketing copy does, "
            "before the price.</td><td>12,50 \xe2\x82\xac</td></tr>\r\n";
        std::string s = "<html><head><meta charset=\"utf-8\"></head><body><table>\r\n";
        while (s.size() < 8 * 1024 * 1024) s += row;
        return s + "</table></body></html>\r\n";
    }();
    return h;
}

const std::string& qp_text() {
    static const std::string t = mime::qp_encode(html());
    return t;
}

void BM_Memcpy_Base64Input(benchmark::State& st) {
    const std::string& in = base64_text();
    std::string out(in.size(), '\0');
    for (auto _ : st) {
        std::memcpy(out.data(), in.data(), in.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_Memcpy_Base64Input);

void BM_Base64_Decode_76ColCrlf(benchmark::State& st) {
    const std::string& in = base64_text();
    std::string out;
    for (auto _ : st) {
        out.clear();
        mime::Base64Decoder d;
        d.feed(in, out);
        d.finish(out);
        benchmark::DoNotOptimize(out.data());
    }
    if (out != binary()) st.SkipWithError("base64 round trip differs");
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_Base64_Decode_76ColCrlf);

void BM_Base64_Encode(benchmark::State& st) {
    const std::string& in = binary();
    for (auto _ : st) benchmark::DoNotOptimize(mime::base64_encode(in, 76));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_Base64_Encode);

void BM_Qp_Decode_Html(benchmark::State& st) {
    const std::string& in = qp_text();
    std::string out;
    for (auto _ : st) {
        out.clear();
        mime::QpDecoder d;
        d.feed(in, out);
        d.finish(out);
        benchmark::DoNotOptimize(out.data());
    }
    if (out != html()) st.SkipWithError("quoted-printable round trip differs");
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_Qp_Decode_Html);

void BM_Qp_Encode_Html(benchmark::State& st) {
    const std::string& in = html();
    for (auto _ : st) benchmark::DoNotOptimize(mime::qp_encode(in));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_Qp_Encode_Html);

}  // namespace
}  // namespace ringmail::bench

BENCHMARK_MAIN();
