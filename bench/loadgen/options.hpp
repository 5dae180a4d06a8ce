// bench/loadgen/options.hpp — ringmail-bench's command line: what load to generate and how
// long. Every run is bounded: by --messages, by --duration, and always by a hard time cap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail::bench {

struct SizeClass {
    std::size_t bytes;     // message size before dot-stuffing, CRLF line ends
    std::uint32_t weight;  // relative frequency in --size-dist
};

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 2525;
    unsigned connections = 1;
    unsigned transactions_per_connection = 0;  // 0: keep the connection for the whole run
    bool pipelining = false;                    // RFC 2920, when the server offers it
    bool bdat = false;                          // RFC 3030 BDAT n LAST, when CHUNKING is offered
    bool starttls = false;                      // RFC 3207: every session upgrades to TLS first
    std::vector<SizeClass> sizes{{1024, 1}};
    unsigned recipients = 1;
    std::uint64_t messages = 0;  // 0: no count bound (then --duration bounds the run)
    double duration_s = 0;       // the time bound, always set after parsing
    bool duration_given = false;
    double rate = 0;             // 0: closed loop; else open loop, messages per second
    unsigned threads = 1;
    bool json = false;
};

// Without --duration a run still stops here: no invocation runs unbounded.
inline constexpr double kHardCapSeconds = 600;
inline constexpr std::uint64_t kDefaultMessages = 10000;

// Parses argv. Returns -1 when the run should go ahead, else the exit status to use
// (0 after --help, 2 for a usage error, with the message already printed).
int parse_options(int argc, char** argv, Options& out);

}  // namespace ringmail::bench
