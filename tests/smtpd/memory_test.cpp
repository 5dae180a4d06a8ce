// tests/smtpd/memory_test.cpp — return_free_memory from two reactors at once. Under a
// sanitizer (or any allocator not glibc's) that call is glibc malloc's first use, whose
// lazy set-up is not thread-safe: unserialised, about half of the processes below died
// (a crash in mtrim, or glibc's `attached_threads > 0` assertion at thread exit). Each
// try needs a process whose glibc allocator is still untouched, hence a fork per try.
// Where glibc's malloc is the program's (plain builds) the race cannot happen, and the
// test passes trivially; the sanitizer stage of CI is where it bites.
#include "smtpd/memory.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace ringmail::smtpd {
namespace {

void two_reactors_trim_at_once() {
    std::atomic<int> ready{0};
    const auto reactor = [&ready] {
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        return_free_memory();
    };
    std::thread a(reactor), b(reactor);
    a.join();
    b.join();
}

TEST(ReturnFreeMemory, TwoThreadsAtOnceInAFreshProcess) {
    constexpr int kTries = 40;
    int died = 0;
    for (int i = 0; i < kTries; ++i) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            two_reactors_trim_at_once();
            ::_exit(0);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++died;
    }
    EXPECT_EQ(died, 0) << "of " << kTries << " processes";
}

}  // namespace
}  // namespace ringmail::smtpd
