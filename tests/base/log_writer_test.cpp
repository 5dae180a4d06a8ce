// tests/base/log_writer_test.cpp — base/log's writer thread (stderr a regular file): every
// line handed over reaches the file, whole, in the order handed over (across threads, and
// past the size at which a poster writes a backlog itself), and nothing waits after
// stop_writer(). stderr is pointed at a temporary file for the test and put back after.
#include "base/log.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ringmail::log {
namespace {

class LogWriter : public ::testing::Test {
protected:
    void SetUp() override {
        char name[] = "/tmp/ringmail-log-writer.XXXXXX";
        const int fd = ::mkstemp(name);
        ASSERT_GE(fd, 0);
        path_ = name;
        saved_ = ::dup(STDERR_FILENO);
        ASSERT_GE(::dup2(fd, STDERR_FILENO), 0);
        ::close(fd);
    }
    void TearDown() override {
        stop_writer();
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        ::unlink(path_.c_str());
    }
    std::vector<std::string> lines() const {
        std::ifstream in(path_);
        std::vector<std::string> out;
        for (std::string l; std::getline(in, l);) out.push_back(l);
        return out;
    }
    std::string path_;
    int saved_ = -1;
};

TEST_F(LogWriter, StartsOnlyForARegularFileAndKeepsTheOrderOfPosts) {
    ASSERT_TRUE(start_writer());
    EXPECT_TRUE(writer_running());
    // Two threads take turns: each post happens after the other's returned, so the file
    // must hold them in exactly this order.
    std::atomic<int> turn{0};
    constexpr int kEach = 2000;
    auto run = [&](int me) {
        for (int i = 0; i < kEach; ++i) {
            while (turn.load() % 2 != me) std::this_thread::yield();
            std::string lines = "t" + std::to_string(me) + " " + std::to_string(i) + "\n";
            flush(lines);
            EXPECT_TRUE(lines.empty());
            turn.fetch_add(1);
        }
    };
    std::thread a(run, 0), b(run, 1);
    a.join();
    b.join();
    note("last");
    stop_writer();
    EXPECT_FALSE(writer_running());
    const auto got = lines();
    ASSERT_EQ(got.size(), 2u * kEach + 1);
    for (int k = 0; k < 2 * kEach; ++k)
        ASSERT_EQ(got[k], "t" + std::to_string(k % 2) + " " + std::to_string(k / 2)) << k;
    EXPECT_EQ(got.back(), "ringmail: last");
    // Stopped: lines are written at once again.
    note("after");
    EXPECT_EQ(lines().back(), "ringmail: after");
}

TEST_F(LogWriter, ABacklogPastAMegabyteIsWrittenWholeAndInOrder) {
    ASSERT_TRUE(start_writer());
    // Many posts from two threads at once, 3 MB in all: faster than one write per
    // kLingerMs, so posters write the backlog themselves. Per thread the order holds.
    constexpr int kEach = 12000;
    const std::string pad(120, 'x');
    auto run = [&](int me) {
        std::string lines;
        for (int i = 0; i < kEach; ++i) {
            lines += "t" + std::to_string(me) + " " + std::to_string(i) + " " + pad + "\n";
            if (i % 10 == 9) flush(lines);
        }
        flush(lines);
    };
    std::thread a(run, 0), b(run, 1);
    a.join();
    b.join();
    stop_writer();
    const auto got = lines();
    ASSERT_EQ(got.size(), 2u * kEach);
    int next[2] = {0, 0};
    for (const std::string& l : got) {
        ASSERT_EQ(l.size() > 3 && l[0] == 't', true) << l;
        const int me = l[1] - '0';
        ASSERT_TRUE(me == 0 || me == 1) << l;
        std::istringstream in(l.substr(3));
        int i = -1;
        in >> i;
        ASSERT_EQ(i, next[me]) << l;
        ++next[me];
        ASSERT_EQ(l.substr(l.size() - pad.size()), pad);
    }
}

TEST(LogWriterPipe, APipeIsNotTheWritersToWrite) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(p[1], STDERR_FILENO);
    const bool started = start_writer();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(p[0]);
    ::close(p[1]);
    EXPECT_FALSE(started);
}

}  // namespace
}  // namespace ringmail::log
