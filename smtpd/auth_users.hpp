// smtpd/auth_users.hpp — the built-in on_auth backend: `auth_users = FILE`, lines
// `name:HASH` with crypt(3) hashes (SHA-512-crypt "$6$" as `openssl passwd -6` makes,
// yescrypt "$y$" as `mkpasswd` makes). Checked on handler pool threads, never on a
// reactor (the hashes are slow by design); reread on SIGHUP.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ringmail::smtpd {

class AuthUsers {
public:
    // Reads `path`; throws std::runtime_error with one line on a missing file or a bad line.
    explicit AuthUsers(std::string path);
    // Rereads the file; on failure keeps the old table and returns the one-line reason.
    std::string reload();
    // Thread-safe. Unknown users cost one hash too, so timing does not tell names apart.
    bool check(const std::string& user, const std::string& password) const;
    std::size_t size() const;
    // What unknown names are checked against: a hash of the same scheme, cost and salt
    // length as one of the file's entries (SHA-512-crypt for an empty file).
    std::string dummy_hash() const;

private:
    struct Table {
        std::unordered_map<std::string, std::string> users;
        std::string dummy;
    };
    static std::shared_ptr<const Table> load(const std::string& path);

    std::string path_;
    mutable std::mutex mu_;  // guards table_ (the pointer, not the table, which is const)
    std::shared_ptr<const Table> table_;
};

}  // namespace ringmail::smtpd
