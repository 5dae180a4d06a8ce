// bench/loadgen/report.hpp — the run's summary, as text for people or one JSON object
// (--json) for scripts. Latencies are per transaction, in microseconds in JSON.
#pragma once

#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace ringmail::bench {

struct RunInfo {
    std::string target;        // host:port
    double elapsed_s = 0;      // load start to the last finished transaction
    double cpu_user_s = 0;     // getrusage(RUSAGE_SELF) over the run, all threads
    double cpu_sys_s = 0;
    bool time_capped = false;  // the time bound (not --messages) ended the run
};

std::string error_name(int key);
void print_text(const Options& opt, const Stats& s, const RunInfo& info);
void print_json(const Options& opt, const Stats& s, const RunInfo& info);

}  // namespace ringmail::bench
