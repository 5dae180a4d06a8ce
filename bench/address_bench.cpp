// bench/address_bench.cpp — extract_addresses on a realistic To: header: 20 addresses of
// every common shape (bare, display name, quoted names with commas, RFC 2047 names,
// comments, a group, UTF-8), folded as mailers fold them. Reports addresses/s and bytes/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "mime/address_list.hpp"
#include "mime/encoded_words.hpp"

namespace ringmail::bench {
namespace {

const std::string kToHeader =
    "\"Doe, John\" <john.doe@example.com>, jane@example.org,\r\n"
    " Mary Smith <mary.smith@mail.example.net>, =?UTF-8?Q?Ren=C3=A9_Fran=C3=A7ois?=\r\n"
    " <rene@example.fr>, \"Support Team\" <support+tickets@help.example.com>,\r\n"
    " bob@example.com (Bob Builder), <noreply@notifications.example.io>,\r\n"
    " =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>, alice.b@sub.example.co.uk,\r\n"
    " team: dev1@example.com, \"Dev Two\" <dev2@example.com>, dev3@example.com;,\r\n"
    " \"O'Brien, Pat (Sales)\" <pat.obrien@example.ie>,\r\n"
    " =?UTF-8?B?5byg5Lyf?= <zhang.wei@example.cn>, \"Dave\" <dave@example.com>,\r\n"
    " eve@example.net, Frank <frank@[192.0.2.10]>, grace_hopper@navy.example.mil,\r\n"
    " =?utf-8?q?Ang=C3=A9lique?= <angelique@example.fr>, j\xC3\xB6rg@b\xC3\xBC" "cher.example";

void BM_ExtractAddresses_To20(benchmark::State& st) {
    std::size_t n = 0;
    for (auto _ : st) {
        auto list = mime::extract_addresses(kToHeader);
        n = list.size();
        benchmark::DoNotOptimize(list);
    }
    if (n != 20) st.SkipWithError("fixture does not give 20 addresses");
    st.counters["addresses/s"] =
        benchmark::Counter(static_cast<double>(st.iterations()) * static_cast<double>(n),
                           benchmark::Counter::kIsRate);
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(kToHeader.size()));
}
BENCHMARK(BM_ExtractAddresses_To20);

// The same header with display names kept (parse_address_list decodes the RFC 2047 ones).
void BM_ParseAddressList_To20(benchmark::State& st) {
    std::size_t n = 0;
    for (auto _ : st) {
        auto list = mime::parse_address_list(kToHeader);
        n = list.size();
        benchmark::DoNotOptimize(list);
    }
    st.counters["addresses/s"] =
        benchmark::Counter(static_cast<double>(st.iterations()) * static_cast<double>(n),
                           benchmark::Counter::kIsRate);
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(kToHeader.size()));
}
BENCHMARK(BM_ParseAddressList_To20);

// A plain Subject with two encoded words, as most non-English mail has one.
void BM_DecodeHeaderValue_Subject(benchmark::State& st) {
    const std::string subject =
        "Re: =?UTF-8?Q?R=C3=A9union_du_comit=C3=A9_?=\r\n =?UTF-8?Q?de_direction_=E2=80=94_ordre_du_jour?=";
    for (auto _ : st) benchmark::DoNotOptimize(mime::decode_header_value(subject));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(subject.size()));
}
BENCHMARK(BM_DecodeHeaderValue_Subject);

}  // namespace
}  // namespace ringmail::bench

BENCHMARK_MAIN();
