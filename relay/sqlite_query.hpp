// relay/sqlite_query.hpp — one use of a cached prepared statement (internal to the SQLite
// store): bind, step, read columns; the statement is reset and its bindings cleared when
// the Query goes out of scope, so the cache never holds a statement mid-step (which would
// keep a read transaction open and stop WAL checkpoints).
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::relay {

class Query {
public:
    explicit Query(sqlite3_stmt* s) noexcept : s_(s) {}
    ~Query() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& bind(int i, std::int64_t v) noexcept {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    // The text must outlive step(): SQLITE_STATIC copies nothing.
    Query& bind(int i, std::string_view v) noexcept {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    Query& bind(int i, std::optional<std::int64_t> v) noexcept {
        if (v) return bind(i, *v);
        sqlite3_bind_null(s_, i);
        return *this;
    }
    int step() noexcept { return sqlite3_step(s_); }  // SQLITE_ROW, SQLITE_DONE or an error

    std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(s_, col); }
    std::optional<std::int64_t> maybe_int64(int col) const noexcept {
        if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
        return int64(col);
    }
    std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
    }
    int changes() const noexcept { return sqlite3_changes(sqlite3_db_handle(s_)); }

private:
    sqlite3_stmt* s_;
};

}  // namespace ringmail::relay
