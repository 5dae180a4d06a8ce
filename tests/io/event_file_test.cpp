// tests/io/event_file_test.cpp — io::EventFile: lines posted from several threads all reach
// the file whole (one write per batch, O_APPEND), the destructor writes what is left, and
// reopen() after a rename sends later lines to a new file at the path.
#include "io/event_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string temp_path(const char* name) {
    return ::testing::TempDir() + "ringmail_event_file_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// Waits (bounded: 10 s) for the writer thread to have done something.
template <class F>
bool eventually(F done) {
    for (int i = 0; i < 10000; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

TEST(EventFile, LinesFromSeveralThreadsArriveWhole) {
    const std::string path = temp_path("threads");
    std::remove(path.c_str());
    {
        ringmail::io::EventFile f(path, 1 << 16);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&f, t] {
                for (int i = 0; i < 1000; ++i) {
                    std::string batch = std::to_string(t) + "." + std::to_string(i) + " a\n" + std::to_string(t) +
                                        "." + std::to_string(i) + " b\n";
                    f.post(batch);
                    EXPECT_TRUE(batch.empty());
                }
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(f.dropped(), 0u);
    }  // the destructor writes what is still queued
    const auto lines = lines_of(path);
    ASSERT_EQ(lines.size(), 8000u);
    const std::set<std::string> unique(lines.begin(), lines.end());
    EXPECT_EQ(unique.size(), 8000u);
    for (std::size_t i = 0; i < lines.size(); i += 2) {  // a batch's lines stay together
        ASSERT_EQ(lines[i].substr(lines[i].size() - 2), " a");
        EXPECT_EQ(lines[i + 1], lines[i].substr(0, lines[i].size() - 1) + "b");
    }
    std::remove(path.c_str());
}

TEST(EventFile, ReopenAfterRenameWritesANewFile) {
    const std::string path = temp_path("reopen");
    std::remove(path.c_str());
    std::remove((path + ".1").c_str());
    {
        ringmail::io::EventFile f(path);
        std::string one = "one\n";
        f.post(one);
        ASSERT_TRUE(eventually([&] { return lines_of(path).size() == 1; }));
        ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
        f.reopen();
        ASSERT_TRUE(eventually([&] { return ::access(path.c_str(), F_OK) == 0; }));  // reopened
        std::string two = "two\n";
        f.post(two);
    }
    EXPECT_EQ(lines_of(path + ".1"), std::vector<std::string>{"one"});
    EXPECT_EQ(lines_of(path), std::vector<std::string>{"two"});
    std::remove(path.c_str());
    std::remove((path + ".1").c_str());
}

TEST(EventFile, AnUnopenablePathThrows) {
    EXPECT_THROW(ringmail::io::EventFile("/nonexistent-dir/x/events"), std::runtime_error);
}

}  // namespace
