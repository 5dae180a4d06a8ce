// bench/loadgen/report.cpp — formats the merged Stats. CPU per message is the generator's
// own utime+stime divided by the transactions it finished: the figure to set beside
// smtp-source's for the same load.
#include "report.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace ringmail::bench {
namespace {

double per_s(double n, double s) { return s > 0 ? n / s : 0.0; }
double us(std::uint64_t ns) { return double(ns) / 1000.0; }

struct Derived {
    double msgs_per_s, mb_per_s, cpu_us_per_msg;
};

Derived derive(const Stats& s, const RunInfo& info) {
    const double cpu = info.cpu_user_s + info.cpu_sys_s;
    return {per_s(double(s.ok), info.elapsed_s), per_s(double(s.bytes_ok) / 1e6, info.elapsed_s),
            s.sent ? cpu * 1e6 / double(s.sent) : 0.0};
}

std::string mode(const Options& opt) {
    std::string m = opt.rate > 0 ? "open loop" : "closed loop";
    m += opt.pipelining ? ", pipelining" : ", lock-step";
    m += opt.bdat ? ", BDAT" : ", DATA";
    return m;
}

}  // namespace

std::string error_name(int key) {
    switch (key) {
    case kErrClosed: return "closed";
    case kErrConnect: return "connect";
    case kErrTimeout: return "timeout";
    case kErrProtocol: return "protocol";
    default: return std::to_string(key);
    }
}

void print_text(const Options& opt, const Stats& s, const RunInfo& info) {
    const Derived d = derive(s, info);
    std::printf("ringmail-bench: %s, %u connections, %u thread%s, %s", info.target.c_str(), opt.connections,
                opt.threads, opt.threads == 1 ? "" : "s", mode(opt).c_str());
    if (opt.rate > 0) std::printf(", %.1f msg/s offered", opt.rate);
    std::printf("\n  server offered: PIPELINING in %llu of %llu sessions, CHUNKING in %llu\n",
                (unsigned long long)s.with_pipelining, (unsigned long long)s.sessions,
                (unsigned long long)s.with_chunking);
    if (s.tls_handshakes) std::printf("  TLS handshakes (STARTTLS): %llu\n", (unsigned long long)s.tls_handshakes);
    std::printf("  messages:   %llu sent, %llu ok, %llu failed, %llu not sent%s\n", (unsigned long long)s.sent,
                (unsigned long long)s.ok, (unsigned long long)s.failed, (unsigned long long)s.unsent,
                info.time_capped ? " (time bound reached)" : "");
    std::printf("  elapsed:    %.3f s   %.1f messages/s   %.2f MB/s\n", info.elapsed_s, d.msgs_per_s, d.mb_per_s);
    const Histogram& h = s.latency;
    std::printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", us(h.quantile(0.5)) / 1000,
                us(h.quantile(0.9)) / 1000, us(h.quantile(0.99)) / 1000, us(h.quantile(0.999)) / 1000,
                us(h.max()) / 1000);
    std::printf("  errors:     ");
    if (s.errors.empty()) std::printf("none");
    bool first = true;
    for (const auto& [k, v] : s.errors) {
        std::printf("%s%s: %llu", first ? "" : ", ", error_name(k).c_str(), (unsigned long long)v);
        first = false;
    }
    std::printf("\n  connections: %llu opened, %llu errors, %llu abandoned\n", (unsigned long long)s.connects,
                (unsigned long long)s.connection_errors, (unsigned long long)s.abandoned);
    std::printf("  client CPU: %.3f s user, %.3f s sys, %.2f us/message\n", info.cpu_user_s, info.cpu_sys_s,
                d.cpu_us_per_msg);
}

void print_json(const Options& opt, const Stats& s, const RunInfo& info) {
    const Derived d = derive(s, info);
    const Histogram& h = s.latency;
    nlohmann::json errors = nlohmann::json::object();
    for (const auto& [k, v] : s.errors) errors[error_name(k)] = v;
    nlohmann::json sizes = nlohmann::json::array();
    for (const SizeClass& sc : opt.sizes) sizes.push_back({{"bytes", sc.bytes}, {"weight", sc.weight}});
    nlohmann::json j = {
        {"target", info.target},
        {"connections", opt.connections},
        {"threads", opt.threads},
        {"loop", opt.rate > 0 ? "open" : "closed"},
        {"rate", opt.rate},
        {"pipelining", opt.pipelining},
        {"bdat", opt.bdat},
        {"recipients", opt.recipients},
        {"sizes", sizes},
        {"transactions_per_connection", opt.transactions_per_connection},
        {"messages_requested", opt.messages ? nlohmann::json(opt.messages) : nlohmann::json()},
        {"duration_limit_s", opt.duration_s},
        {"sessions", s.sessions},
        {"tls_handshakes", s.tls_handshakes},
        {"sessions_with_pipelining", s.with_pipelining},
        {"sessions_with_chunking", s.with_chunking},
        {"messages_sent", s.sent},
        {"messages_ok", s.ok},
        {"messages_failed", s.failed},
        {"messages_unsent", s.unsent},
        {"time_capped", info.time_capped},
        {"bytes_ok", s.bytes_ok},
        {"elapsed_s", info.elapsed_s},
        {"messages_per_s", d.msgs_per_s},
        {"mb_per_s", d.mb_per_s},
        {"latency_us",
         {{"count", h.count()},
          {"mean", us(static_cast<std::uint64_t>(h.mean()))},
          {"p50", us(h.quantile(0.5))},
          {"p90", us(h.quantile(0.9))},
          {"p99", us(h.quantile(0.99))},
          {"p99_9", us(h.quantile(0.999))},
          {"max", us(h.max())}}},
        {"errors", errors},
        {"connections_opened", s.connects},
        {"connection_errors", s.connection_errors},
        {"connections_abandoned", s.abandoned},
        {"cpu_user_s", info.cpu_user_s},
        {"cpu_sys_s", info.cpu_sys_s},
        {"cpu_us_per_message", d.cpu_us_per_msg},
    };
    std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace ringmail::bench
