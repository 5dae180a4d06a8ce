// fuzz/fuzz_client_session.cpp — the SMTP client state machine against hostile server
// replies: a fuzzer-chosen split of the server's bytes must not change what the client
// says or decides, and no bare CR or LF ever leaves it, whatever the server sends.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "proto/client_session.hpp"

using ringmail::fuzz::check;
using namespace ringmail::proto;

namespace {

struct RunResult {
    std::string said;  // everything the client wrote
    ClientState state;
    ClientError error;
    std::vector<int> codes;  // MAIL, RCPT..., DATA results
    bool operator==(const RunResult&) const = default;
};

// Feeds the server's bytes in the given pieces, acting as an engine would: keep what
// was not consumed, "handshake" at NeedTls, send one message when Ready, then QUIT.
RunResult run(std::string_view server, std::size_t cut, bool starttls, bool login) {
    ClientOptions opt;
    opt.starttls = starttls;
    if (login) {
        opt.user = "user";
        opt.password = "secret";
    }
    ClientSession s(opt);
    const std::vector<std::string> rcpts = {"a@example.com", "b@example.org"};
    // A body full of what must never leave raw: bare CR, bare LF, a lone dot line.
    const std::string body = "Subject: x\r\n\r\nbare\rcr\nlf\r\n.\r\n..dots\n.\rend";
    RunResult o;
    bool sent = false, quit = false;
    std::string pending;
    auto pump = [&] {
        for (int guard = 0; guard < 10000; ++guard) {
            const std::size_t used = s.feed({pending.data(), pending.size()});
            pending.erase(0, used);
            bool acted = false;
            if (s.state() == ClientState::NeedTls) {
                s.tls_started();
                acted = true;
            } else if (s.state() == ClientState::Ready && !sent) {
                s.send_mail("from@example.com", rcpts, body);
                sent = acted = true;
            } else if (s.state() == ClientState::Ready && !quit) {
                s.quit();
                quit = acted = true;
            }
            o.said += s.output();
            s.output().clear();
            if (used == 0 && !acted) return;
        }
        ringmail::fuzz::fail("client made no progress");
    };
    o.said += s.output();
    s.output().clear();
    for (std::string_view piece : {server.substr(0, cut), server.substr(cut)}) {
        pending.append(piece);
        pump();
    }
    s.connection_closed();
    o.said += s.output();
    o.state = s.state();
    o.error = s.error();
    o.codes.push_back(s.result().mail.code);
    for (const auto& r : s.result().rcpt) o.codes.push_back(r.code);
    o.codes.push_back(s.result().data.code);
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool starttls = data[0] & 1, login = data[0] & 2;
    const std::string_view server(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t cut = (data[0] >> 2) % (server.size() + 1);
    const RunResult whole = run(server, server.size(), starttls, login);
    const RunResult split = run(server, cut, starttls, login);
    check(whole == split, "the split of the server's bytes changed the client's behaviour");
    const std::string& w = whole.said;
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (w[i] == '\n') check(i > 0 && w[i - 1] == '\r', "bare LF sent to the server");
        if (w[i] == '\r') check(i + 1 < w.size() && w[i + 1] == '\n', "bare CR sent to the server");
    }
    check(w.size() < 64 * 1024 + 16 * server.size(), "client output not bounded");
    return 0;
}
