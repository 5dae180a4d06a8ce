// bench/loadgen/main.cpp — ringmail-bench: parse options, pre-build the messages, run one
// Worker (and io_uring) per thread over its share of the connections, merge, report.
// Exit status: 0 if every transaction got 250, 1 if any failed (or none ran), 2 on usage.
#include <netdb.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "options.hpp"
#include "payload.hpp"
#include "report.hpp"
#include "worker.hpp"

using namespace ringmail::bench;

namespace {

bool resolve(const Options& opt, Target& out) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(opt.port);
    const int rc = ::getaddrinfo(opt.host.c_str(), port.c_str(), &hints, &res);  // before the loop
    if (rc != 0 || !res) {
        std::fprintf(stderr, "ringmail-bench: %s: %s\n", opt.host.c_str(), ::gai_strerror(rc));
        return false;
    }
    std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
    out.len = res->ai_addrlen;
    ::freeaddrinfo(res);
    return true;
}

double seconds(const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    Target target;
    if (!resolve(opt, target)) return 2;
    std::signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; this covers the rest

    try {
        const PayloadSet payloads(opt.sizes, opt.recipients);
        rusage ru0{}, ru1{};
        ::getrusage(RUSAGE_SELF, &ru0);
        const std::uint64_t start = mono_ns();
        std::vector<std::unique_ptr<Worker>> workers;
        for (unsigned i = 0; i < opt.threads; ++i) {
            WorkerPlan plan;
            plan.index = i;
            plan.connections = opt.connections / opt.threads + (i < opt.connections % opt.threads ? 1 : 0);
            plan.quota = opt.messages / opt.threads + (i < opt.messages % opt.threads ? 1 : 0);
            plan.start_ns = start;
            workers.push_back(std::make_unique<Worker>(opt, payloads, target, plan));
        }
        std::vector<std::thread> threads;
        for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
        for (auto& t : threads) t.join();
        const std::uint64_t end = mono_ns();
        ::getrusage(RUSAGE_SELF, &ru1);

        Stats total;
        for (auto& w : workers) {
            if (!w->fatal().empty()) std::fprintf(stderr, "ringmail-bench: %s\n", w->fatal().c_str());
            total.merge(w->stats());
        }
        RunInfo info;
        info.target = (opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host) + ":" +
                      std::to_string(opt.port);
        const std::uint64_t from = total.load_start_ns ? total.load_start_ns : start;
        const std::uint64_t to = total.last_done_ns > from ? total.last_done_ns : end;
        info.elapsed_s = double(to - from) / 1e9;
        info.cpu_user_s = seconds(ru1.ru_utime) - seconds(ru0.ru_utime);
        info.cpu_sys_s = seconds(ru1.ru_stime) - seconds(ru0.ru_stime);
        info.time_capped = total.time_up;
        if (opt.json) print_json(opt, total, info);
        else print_text(opt, total, info);
        // Messages left unsent because an explicit --duration ended the run are no failure;
        // left by the hard cap, by dead connections or by a hung server they are.
        const bool unsent_ok = total.unsent == 0 || (total.time_up && opt.duration_given);
        const bool all_ok = total.ok > 0 && total.failed == 0 && total.connection_errors == 0 && unsent_ok;
        return all_ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail-bench: %s\n", e.what());
        return 1;
    }
}
