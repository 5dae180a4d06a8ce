// bench/proto_bench.cpp — proto hot paths: commands/s through ServerSession (pipelined
// transactions) and DATA bytes/s through BodyReader's dot-unstuffing and end-of-data
// scan, whole and in receive-buffer-sized pieces. No I/O: the figures are the ceiling
// the engine can reach per core.
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "proto/body_reader.hpp"
#include "proto/client_session.hpp"
#include "proto/server_session.hpp"

namespace ringmail::bench {
namespace {

std::string fixture(const std::string& name) {
    std::ifstream f(std::string(RINGMAIL_BENCH_DATA) + "/" + name, std::ios::binary);
    if (!f) throw std::runtime_error("missing bench fixture " + name);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A body of `lines` lines of `width` octets, every 16th starting with a stuffed dot.
std::string body(std::size_t lines, std::size_t width) {
    std::string b;
    b.reserve(lines * (width + 3));
    for (std::size_t i = 0; i < lines; ++i) {
        if (i % 16 == 0) b += "..";
        for (std::size_t k = 0; k < width; ++k) b.push_back(static_cast<char>('a' + (i + k) % 26));
        b += "\r\n";
    }
    return b;
}

// Feeds `in` in pieces of `piece` octets as the reactor does, accepting every question.
// Returns the replies' size so the work cannot be optimised away.
std::size_t run_session(std::string_view in, std::size_t piece, const proto::Limits& limits) {
    proto::ServerSession s(limits, proto::Features{}, "mx.bench");
    s.greet(0);
    std::string pending;
    std::size_t out = 0;
    for (std::size_t from = 0; from < in.size(); from += piece) {
        pending.append(in.substr(from, piece));
        std::size_t off = 0;
        for (;;) {
            const proto::Step st = s.feed({pending.data() + off, pending.size() - off}, 0);
            off += st.consumed;
            if (st.need == proto::Need::Input || st.need == proto::Need::Close) break;
            if (st.need == proto::Need::Message) benchmark::DoNotOptimize(s.take_message());
            s.resolve({});
        }
        pending.erase(0, off);
        out += s.output().size();
        s.output().clear();
    }
    return out;
}

// Pipelined transactions of MAIL, 3 RCPT and RSET: the command path without DATA.
void BM_ServerSession_Commands(benchmark::State& st) {
    std::string in = "EHLO bench.test\r\n";
    std::int64_t commands = 1;
    for (int i = 0; i < 20; ++i) {
        in += "MAIL FROM:<sender" + std::to_string(i) + "@example.org> SIZE=1000\r\n"
              "RCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nRSET\r\n";
        commands += 5;
    }
    in += "QUIT\r\n";
    ++commands;
    for (auto _ : st) benchmark::DoNotOptimize(run_session(in, in.size(), proto::Limits{}));
    st.SetItemsProcessed(st.iterations() * commands);
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_ServerSession_Commands);

// One 10 KiB message, whole session, from the fixture; arg = receive piece size.
void BM_ServerSession_OneMail(benchmark::State& st) {
    const std::string in = fixture("one_mail_10k.smtp");
    const auto piece = static_cast<std::size_t>(st.range(0));
    for (auto _ : st) benchmark::DoNotOptimize(run_session(in, piece, proto::Limits{}));
    st.SetItemsProcessed(st.iterations());  // messages
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_ServerSession_OneMail)->Arg(1 << 20)->Arg(16384)->Arg(1460);

// DATA through BodyReader: dot-unstuffing, bare CR/LF checks and the end scan.
void BM_BodyReader_Data(benchmark::State& st) {
    const std::string in = body(std::size_t(st.range(0)), std::size_t(st.range(1))) + ".\r\n";
    std::string out;
    out.reserve(in.size());
    for (auto _ : st) {
        proto::BodyReader r;
        out.clear();
        r.start(&out, std::uint64_t(1) << 40, 1000);
        const auto res = r.feed_data(in);
        if (!res.done || r.error() != proto::Error::None) st.SkipWithError("fixture did not end cleanly");
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_BodyReader_Data)->Args({16384, 76})->Args({1024, 996})->Args({65536, 8});

// The same scan fed in receive-buffer pieces: the state carried across pieces.
void BM_BodyReader_DataPieces(benchmark::State& st) {
    const std::string in = body(16384, 76) + ".\r\n";
    const auto piece = static_cast<std::size_t>(st.range(0));
    std::string out;
    out.reserve(in.size());
    for (auto _ : st) {
        proto::BodyReader r;
        out.clear();
        r.start(&out, std::uint64_t(1) << 40, 1000);
        for (std::size_t i = 0; i < in.size(); i += piece)
            benchmark::DoNotOptimize(r.feed_data(std::span<const char>(in).subspan(i, std::min(piece, in.size() - i))));
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_BodyReader_DataPieces)->Arg(16384)->Arg(1460)->Arg(64);

// BDAT chunks: line-ending checks only, no dots.
void BM_BodyReader_Chunk(benchmark::State& st) {
    const std::string in = body(16384, 76);
    std::string out;
    out.reserve(in.size());
    for (auto _ : st) {
        proto::BodyReader r;
        out.clear();
        r.start(&out, std::uint64_t(1) << 40, 1000);
        r.feed_chunk(in);
        r.finish_chunks();
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_BodyReader_Chunk);

// The client's DATA body: line ends to CRLF and dots doubled (the relay, each message it
// sends over DATA). Arg 1: a body already CRLF with no line starting with a dot, as most
// queued mail is; 0: every 16th line starts with a dot.
void BM_StuffBody(benchmark::State& st) {
    std::string in = body(1300, 76);  // ~100 KiB
    if (st.range(0) == 1)
        for (std::size_t at = in.find("\n."); at != std::string::npos; at = in.find("\n.", at)) in[at + 1] = 'x';
    if (in.front() == '.') in.front() = 'x';
    for (auto _ : st) benchmark::DoNotOptimize(proto::stuff_body(in));
    st.SetBytesProcessed(st.iterations() * std::int64_t(in.size()));
}
BENCHMARK(BM_StuffBody)->Arg(0)->Arg(1);

}  // namespace
}  // namespace ringmail::bench

BENCHMARK_MAIN();
