// tests/smtpd/auth_users_test.cpp — the auth_users backend: logins check against crypt(3)
// hashes, and unknown names are checked against a dummy of the same scheme and cost.
#include "smtpd/auth_users.hpp"

#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

namespace ringmail::smtpd {
namespace {

std::string hash_of(const std::string& password, const char* prefix) {
    auto data = std::make_unique<crypt_data>();
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting)) return {};
    const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
    return out && out[0] != '*' ? out : "";
}

// Everything but the hash: "$y$j9T$salt" of "$y$j9T$salt$hash", "$6$salt" of
// "$6$salt$hash" (the scheme, its cost parameters and the salt).
std::string settings_of(const std::string& hash) { return hash.substr(0, hash.rfind('$')); }

class AuthUsersTest : public ::testing::Test {
protected:
    std::string write(const std::string& text) {
        char name[] = "/tmp/ringmail-auth-XXXXXX";
        const int fd = ::mkstemp(name);
        ::close(fd);
        std::ofstream(name) << text;
        path_ = name;
        return path_;
    }
    void TearDown() override {
        if (!path_.empty()) std::remove(path_.c_str());
    }
    std::string path_;
};

// A yescrypt file used to be checked against a SHA-512 dummy for unknown names: 1.5 ms
// against 22 ms, so timing told which names exist.
TEST_F(AuthUsersTest, UnknownNamesCostTheSameSchemeAsKnownOnes) {
    for (const char* prefix : {"$y$", "$6$"}) {
        const std::string h = hash_of("secret", prefix);
        ASSERT_FALSE(h.empty()) << prefix;
        AuthUsers users(write("alice:" + h + "\n"));
        const std::string dummy = users.dummy_hash();
        EXPECT_EQ(settings_of(dummy), settings_of(h)) << dummy << " vs " << h;
        EXPECT_NE(dummy, h);
        EXPECT_TRUE(users.check("alice", "secret"));
        EXPECT_FALSE(users.check("alice", "wrong"));
        // Not even alice's password lets an unknown name in.
        EXPECT_FALSE(users.check("mallory", "secret"));
        EXPECT_FALSE(users.check("mallory", "ringmail dummy password"));
    }
}

TEST_F(AuthUsersTest, EmptyFileStillHasADummy) {
    AuthUsers users(write("# nobody yet\n"));
    EXPECT_EQ(users.dummy_hash().rfind("$6$", 0), 0u);
    EXPECT_FALSE(users.check("anyone", "anything"));
}

}  // namespace
}  // namespace ringmail::smtpd
