// tests/relay/sqlite_store_test.cpp — relay/sqlite_store on a fresh temporary directory per
// test: message status from recipients, the due schedule's order, not-before, retry and
// remove, reopening, crash leftovers at open, and a batch of 1,000 as one commit. Times are
// arguments (`kNow`), never the clock, and nothing here asserts on elapsed time.
#include "relay/sqlite_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace ringmail::relay {
namespace {

namespace fs = std::filesystem;

constexpr Time kNow = 1796586137;  // 2026-12-06T19:42:17Z

NewMessage message(std::vector<std::string> to, std::string body = "Subject: hi\r\n\r\nhello\r\n",
                   Priority p = Priority::Medium) {
    NewMessage m;
    m.sender = "from@example.org";
    m.recipients = std::move(to);
    m.priority = p;
    m.body = std::move(body);
    return m;
}

std::string read_body(Store& s, MessageId id) {
    Body b;
    const StoreResult r = s.open_body(id, b);
    EXPECT_TRUE(r) << r.detail;
    std::string out(b.size(), '\0');
    if (!out.empty()) {
        EXPECT_EQ(::pread(b.fd(), out.data(), out.size(), static_cast<off_t>(b.offset())),
                  static_cast<ssize_t>(out.size()));
    }
    return out;
}

class SqliteStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ringmail-store-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        store_ = open();
    }
    void TearDown() override {
        store_.reset();
        fs::remove_all(dir_);
    }
    std::unique_ptr<SqliteStore> open(std::uint64_t max_size = 0) {
        SqliteStoreOptions o;
        o.dir = dir_ + "/queue";
        o.max_message_size = max_size;
        return SqliteStore::open(o);
    }
    MessageId add(NewMessage m, Time now = kNow) {
        std::vector<MessageId> ids;
        const StoreResult r = store_->enqueue({&m, 1}, now, ids);
        EXPECT_TRUE(r) << r.detail;
        EXPECT_EQ(ids.size(), 1u);
        return ids.empty() ? MessageId{} : ids[0];
    }
    Status status_of(MessageId id) {
        Status st = Status::Queued;
        const StoreResult r = store_->status(id, st);
        EXPECT_TRUE(r) << r.detail;
        return st;
    }
    MessageInfo show(MessageId id) {
        MessageInfo m;
        const StoreResult r = store_->show(id, m);
        EXPECT_TRUE(r) << r.detail;
        return m;
    }
    void record(MessageId id, std::uint32_t n, Outcome o, std::string reply, Time next = 0) {
        const AttemptResult a{id, n, o, std::move(reply), next};
        const StoreResult r = store_->record({&a, 1});
        EXPECT_TRUE(r) << r.detail;
    }
    std::vector<MessageId> due(Time by, std::size_t limit = 100) {
        std::vector<ScheduleEntry> entries;
        const StoreResult r = store_->schedule(by, limit, entries);
        EXPECT_TRUE(r) << r.detail;
        std::vector<MessageId> ids;
        for (const auto& e : entries) ids.push_back(e.id);
        return ids;
    }
    std::size_t files_in(const std::string& sub) {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ + "/queue/" + sub)) ++n;
        return n;
    }

    std::string dir_;
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, EnqueueKeepsEnvelopeBodyAndQueuedState) {
    const std::string body = "Subject: x\r\n\r\n" + std::string(5000, 'b') + "\r\n";
    NewMessage m = message({"a@example.com", "b@example.net"}, body, Priority::High);
    const MessageId id = add(m);
    const MessageInfo info = show(id);
    EXPECT_EQ(info.id, id);
    EXPECT_EQ(info.status, Status::Queued);
    EXPECT_EQ(info.priority, Priority::High);
    EXPECT_EQ(info.sender, "from@example.org");
    EXPECT_EQ(info.size, body.size());
    EXPECT_EQ(info.created, kNow);
    ASSERT_EQ(info.recipients.size(), 2u);
    EXPECT_EQ(info.recipients[0].address, "a@example.com");
    EXPECT_EQ(info.recipients[1].address, "b@example.net");
    for (const auto& r : info.recipients) {
        EXPECT_EQ(r.status, Status::Queued);
        EXPECT_EQ(r.attempts, 0u);
        EXPECT_EQ(r.last_reply, "");
        EXPECT_EQ(r.next_attempt, kNow);
    }
    EXPECT_EQ(read_body(*store_, id), body);
    EXPECT_EQ(files_in("spool"), 1u);
}

TEST_F(SqliteStoreTest, AMessagesOwnSmarthostIsKeptAndReadBack) {
    NewMessage m = message({"a@example.com"});
    MessageRoute r;
    r.host = "smtp.example.com";
    r.port = 2525;
    r.tls = SmarthostTls::Smtps;
    r.user = "u";
    r.password = std::string("p,1:\0\n", 7);
    r.timeout_s = 9;
    m.route = r;
    const MessageId with = add(m);
    const MessageId without = add(message({"b@example.com"}));
    store_.reset();
    store_ = open();  // from the file, not a cache
    EXPECT_EQ(show(with).route, r);
    EXPECT_FALSE(show(without).route.has_value());
    m.route->host.clear();
    std::vector<MessageId> ids;
    EXPECT_EQ(store_->enqueue(std::span(&m, 1), kNow, ids).error, StoreError::BadInput);
}

TEST_F(SqliteStoreTest, AllDeliveredIsSent) {
    const MessageId id = add(message({"a@x.test", "b@x.test"}));
    record(id, 0, Outcome::Sent, "250 2.0.0 ok");
    EXPECT_EQ(status_of(id), Status::Queued);  // b is still pending
    record(id, 1, Outcome::Sent, "250 2.0.0 ok too");
    EXPECT_EQ(status_of(id), Status::Sent);
    const MessageInfo info = show(id);
    EXPECT_EQ(info.recipients[1].status, Status::Sent);
    EXPECT_EQ(info.recipients[1].attempts, 1u);
    EXPECT_EQ(info.recipients[1].last_reply, "250 2.0.0 ok too");
    EXPECT_FALSE(info.recipients[1].next_attempt.has_value());
    EXPECT_TRUE(due(kNow + 86400).empty());
}

TEST_F(SqliteStoreTest, AllFailedIsError) {
    const MessageId id = add(message({"a@x.test", "b@x.test"}));
    record(id, 0, Outcome::PermFail, "550 5.1.1 no such user");
    record(id, 1, Outcome::PermFail, "550 5.1.1 no such user");
    EXPECT_EQ(status_of(id), Status::Error);
    EXPECT_EQ(show(id).recipients[0].last_reply, "550 5.1.1 no such user");
}

TEST_F(SqliteStoreTest, MixedIsQueuedWhilePendingThenError) {
    const MessageId id = add(message({"a@x.test", "b@x.test", "c@x.test"}));
    record(id, 0, Outcome::Sent, "250 ok");
    record(id, 1, Outcome::PermFail, "550 no");
    EXPECT_EQ(status_of(id), Status::Queued);  // c pending: queued, though b failed
    record(id, 2, Outcome::TempFail, "451 later", kNow + 300);
    EXPECT_EQ(status_of(id), Status::Queued);
    MessageInfo info = show(id);
    EXPECT_EQ(info.recipients[2].attempts, 1u);
    EXPECT_EQ(info.recipients[2].next_attempt, kNow + 300);
    record(id, 2, Outcome::Sent, "250 at last");
    EXPECT_EQ(status_of(id), Status::Error);  // none pending, one failed
    info = show(id);
    EXPECT_EQ(info.recipients[0].status, Status::Sent);
    EXPECT_EQ(info.recipients[1].status, Status::Error);
    EXPECT_EQ(info.recipients[2].status, Status::Sent);
    EXPECT_EQ(info.recipients[2].attempts, 2u);
}

TEST_F(SqliteStoreTest, ResultsForRecipientsNoLongerPendingAreIgnored) {
    const MessageId id = add(message({"a@x.test"}));
    record(id, 0, Outcome::Sent, "250 ok");
    record(id, 0, Outcome::PermFail, "550 late duplicate");
    record(MessageId{12345}, 0, Outcome::Sent, "250 for nothing");
    const MessageInfo info = show(id);
    EXPECT_EQ(info.status, Status::Sent);
    EXPECT_EQ(info.recipients[0].attempts, 1u);
    EXPECT_EQ(info.recipients[0].last_reply, "250 ok");
}

TEST_F(SqliteStoreTest, TempFailMovesTheMessageOutOfTheDueSchedule) {
    const MessageId id = add(message({"a@x.test", "b@x.test"}));
    EXPECT_EQ(due(kNow), std::vector<MessageId>{id});
    record(id, 0, Outcome::TempFail, "421 busy", kNow + 600);
    EXPECT_EQ(due(kNow), std::vector<MessageId>{id});  // b is still due now
    record(id, 1, Outcome::TempFail, "421 busy", kNow + 300);
    EXPECT_TRUE(due(kNow).empty());
    EXPECT_EQ(due(kNow + 300), std::vector<MessageId>{id});
    std::optional<Time> next;
    ASSERT_TRUE(store_->next_due(next));
    EXPECT_EQ(next, kNow + 300);
}

TEST_F(SqliteStoreTest, ScheduleIsHighestPriorityFirstThenOldest) {
    const MessageId low_old = add(message({"a@x.test"}, "1", Priority::Low), kNow - 300);
    const MessageId medium = add(message({"a@x.test"}, "2", Priority::Medium), kNow - 200);
    const MessageId high_new = add(message({"a@x.test"}, "3", Priority::High), kNow - 100);
    const MessageId high_old = add(message({"a@x.test"}, "4", Priority::High), kNow - 200);
    const MessageId low_new = add(message({"a@x.test"}, "5", Priority::Low), kNow - 100);
    EXPECT_EQ(due(kNow), (std::vector<MessageId>{high_old, high_new, medium, low_old, low_new}));
    EXPECT_EQ(due(kNow, 2), (std::vector<MessageId>{high_old, high_new}));
    std::vector<ScheduleEntry> entries;
    ASSERT_TRUE(store_->schedule(kNow, 1, entries));
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].priority, Priority::High);
    EXPECT_EQ(entries[0].created, kNow - 200);
    EXPECT_EQ(entries[0].next_attempt, kNow - 200);
}

// The relay's look at what a poke brought: only ids above the newest it saw, due, still
// queued, oldest id first, at most `limit`.
TEST_F(SqliteStoreTest, ScheduleAfterGivesOnlyNewerDueMessagesInIdOrder) {
    const MessageId first = add(message({"a@x.test"}, "1", Priority::Low));
    const MessageId second = add(message({"a@x.test"}, "2", Priority::Low));
    NewMessage later = message({"a@x.test"}, "3", Priority::High);
    later.not_before = kNow + 3600;
    const MessageId not_yet = add(later);
    const MessageId high = add(message({"a@x.test"}, "4", Priority::High));
    const MessageId sent = add(message({"a@x.test"}, "5"));
    record(sent, 0, Outcome::Sent, "250 ok");
    const auto after = [this](MessageId id, Time by, std::size_t limit = 100) {
        std::vector<ScheduleEntry> entries;
        const StoreResult r = store_->schedule_after(id, by, limit, entries);
        EXPECT_TRUE(r) << r.detail;
        std::vector<MessageId> ids;
        for (const auto& e : entries) ids.push_back(e.id);
        return ids;
    };
    EXPECT_EQ(after(first, kNow), (std::vector<MessageId>{second, high}));
    EXPECT_EQ(after(first, kNow, 1), std::vector<MessageId>{second});
    EXPECT_EQ(after(MessageId{}, kNow), (std::vector<MessageId>{first, second, high}));
    EXPECT_EQ(after(first, kNow + 3600), (std::vector<MessageId>{second, not_yet, high}));
    EXPECT_TRUE(after(sent, kNow + 3600).empty());
}

TEST_F(SqliteStoreTest, NotBeforeIsHonoured) {
    NewMessage later = message({"a@x.test"});
    later.not_before = kNow + 3600;
    const MessageId id_later = add(later);
    const MessageId id_now = add(message({"b@x.test"}));
    EXPECT_EQ(due(kNow), std::vector<MessageId>{id_now});
    EXPECT_EQ(due(kNow + 3599), std::vector<MessageId>{id_now});
    EXPECT_EQ(due(kNow + 3600), (std::vector<MessageId>{id_later, id_now}));  // same priority: created, then id
    EXPECT_EQ(show(id_later).recipients[0].next_attempt, kNow + 3600);
    NewMessage past = message({"c@x.test"});
    past.not_before = kNow - 3600;  // a date gone by means now
    EXPECT_EQ(show(add(past)).recipients[0].next_attempt, kNow);
}

TEST_F(SqliteStoreTest, RetryMakesOneMessageDueNowAndRevivesFailedRecipients) {
    const MessageId id = add(message({"a@x.test", "b@x.test", "c@x.test"}));
    const MessageId other = add(message({"d@x.test"}));
    record(id, 0, Outcome::Sent, "250 ok");
    record(id, 1, Outcome::PermFail, "550 no");
    record(id, 2, Outcome::TempFail, "451 later", kNow + 3600);
    record(other, 0, Outcome::TempFail, "451 later", kNow + 3600);
    EXPECT_TRUE(due(kNow + 10).empty());
    ASSERT_TRUE(store_->retry(id, kNow + 10));
    EXPECT_EQ(due(kNow + 10), std::vector<MessageId>{id});
    const MessageInfo info = show(id);
    EXPECT_EQ(info.status, Status::Queued);
    EXPECT_EQ(info.recipients[0].status, Status::Sent);  // never sent twice
    EXPECT_FALSE(info.recipients[0].next_attempt.has_value());
    EXPECT_EQ(info.recipients[1].status, Status::Queued);
    EXPECT_EQ(info.recipients[1].attempts, 1u);  // history kept
    EXPECT_EQ(info.recipients[1].next_attempt, kNow + 10);
    EXPECT_EQ(info.recipients[2].next_attempt, kNow + 10);
    EXPECT_EQ(store_->retry(MessageId{42}, kNow).error, StoreError::NotFound);
}

TEST_F(SqliteStoreTest, RetryAllAndFlush) {
    const MessageId failed = add(message({"a@x.test"}));
    const MessageId deferred = add(message({"b@x.test"}));
    const MessageId sent = add(message({"c@x.test"}));
    record(failed, 0, Outcome::PermFail, "550 no");
    record(deferred, 0, Outcome::TempFail, "451 later", kNow + 3600);
    record(sent, 0, Outcome::Sent, "250 ok");
    std::size_t n = 0;
    ASSERT_TRUE(store_->flush(kNow + 1, n));
    EXPECT_EQ(n, 1u);  // only the deferred one: flush leaves failures alone
    EXPECT_EQ(due(kNow + 1), std::vector<MessageId>{deferred});
    EXPECT_EQ(status_of(failed), Status::Error);
    ASSERT_TRUE(store_->retry_all(kNow + 2, n));
    EXPECT_EQ(n, 2u);  // failed and deferred; sent stays sent
    EXPECT_EQ(due(kNow + 2), (std::vector<MessageId>{failed, deferred}));
    EXPECT_EQ(status_of(failed), Status::Queued);
    EXPECT_EQ(status_of(sent), Status::Sent);
}

TEST_F(SqliteStoreTest, RemoveForgetsRowsAndBody) {
    const MessageId id = add(message({"a@x.test", "b@x.test"}));
    store_.reset();
    store_ = open();  // a new store appends to a new spool file
    const MessageId kept = add(message({"c@x.test"}));
    EXPECT_EQ(files_in("spool"), 2u);
    ASSERT_TRUE(store_->remove(id));
    EXPECT_EQ(files_in("spool"), 1u);
    Status st;
    EXPECT_EQ(store_->status(id, st).error, StoreError::NotFound);
    MessageInfo info;
    EXPECT_EQ(store_->show(id, info).error, StoreError::NotFound);
    Body b;
    EXPECT_EQ(store_->open_body(id, b).error, StoreError::NotFound);
    EXPECT_EQ(store_->remove(id).error, StoreError::NotFound);
    EXPECT_EQ(due(kNow), std::vector<MessageId>{kept});
    EXPECT_EQ(show(kept).recipients.size(), 1u);
}

TEST_F(SqliteStoreTest, ListPagesInIdOrderAndFiltersByStatus) {
    std::vector<MessageId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(add(message({"a@x.test"}, std::to_string(i))));
    record(ids[1], 0, Outcome::Sent, "250 ok");
    record(ids[3], 0, Outcome::PermFail, "550 no");
    std::vector<MessageSummary> page;
    ASSERT_TRUE(store_->list({std::nullopt, MessageId{0}, 3}, page));
    ASSERT_EQ(page.size(), 3u);
    EXPECT_EQ(page[0].id, ids[0]);
    EXPECT_EQ(page[2].id, ids[2]);
    ASSERT_TRUE(store_->list({std::nullopt, page.back().id, 3}, page));
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, ids[3]);
    EXPECT_EQ(page[0].status, Status::Error);
    EXPECT_EQ(page[0].pending, 0u);
    ASSERT_TRUE(store_->list({Status::Queued, MessageId{0}, 100}, page));
    ASSERT_EQ(page.size(), 3u);
    EXPECT_EQ(page[1].id, ids[2]);
    EXPECT_EQ(page[1].recipients, 1u);
    EXPECT_EQ(page[1].pending, 1u);
    EXPECT_EQ(page[1].next_attempt, kNow);
    ASSERT_TRUE(store_->list({Status::Sent, MessageId{0}, 100}, page));
    ASSERT_EQ(page.size(), 1u);
    EXPECT_EQ(page[0].id, ids[1]);
    EXPECT_FALSE(page[0].next_attempt.has_value());
}

TEST_F(SqliteStoreTest, ReopenKeepsEverything) {
    const MessageId a = add(message({"a@x.test", "b@x.test"}, "body a", Priority::Low));
    const MessageId b = add(message({"c@x.test"}, "body b"));
    record(a, 0, Outcome::TempFail, "451 later", kNow + 60);
    store_.reset();
    store_ = open();
    EXPECT_TRUE(store_->recovery().ran);
    EXPECT_EQ(store_->recovery().orphans_removed, 0u);
    EXPECT_TRUE(store_->recovery().missing_bodies.empty());
    const MessageInfo info = show(a);
    EXPECT_EQ(info.priority, Priority::Low);
    EXPECT_EQ(info.recipients[0].last_reply, "451 later");
    EXPECT_EQ(info.recipients[0].next_attempt, kNow + 60);
    EXPECT_EQ(read_body(*store_, a), "body a");
    EXPECT_EQ(read_body(*store_, b), "body b");
    // New ids after a reopen still sort after the old ones.
    EXPECT_GT(add(message({"d@x.test"})), b);
}

TEST_F(SqliteStoreTest, OrphanBodyFilesAreCleanedAtOpen) {
    const MessageId kept = add(message({"a@x.test"}, "kept"));
    store_.reset();
    // A crash between the body files and the commit leaves files without rows.
    const std::string orphan = dir_ + "/queue/spool/" + MessageId{kept.value + 1}.text();
    std::ofstream(orphan) << "never committed";
    std::ofstream(dir_ + "/queue/tmp/upload-1") << "never enqueued";
    std::ofstream(dir_ + "/queue/spool/README") << "not ours";
    store_ = open();
    EXPECT_EQ(store_->recovery().orphans_removed, 2u);
    EXPECT_FALSE(fs::exists(orphan));
    EXPECT_FALSE(fs::exists(dir_ + "/queue/tmp/upload-1"));
    EXPECT_TRUE(fs::exists(dir_ + "/queue/spool/README"));
    EXPECT_EQ(read_body(*store_, kept), "kept");
}

TEST_F(SqliteStoreTest, OrphansAreLeftAloneWhileAnotherOpenerMayBeWritingThem) {
    add(message({"a@x.test"}));
    const std::string in_flight = dir_ + "/queue/spool/" + MessageId{1}.text();
    std::ofstream(in_flight) << "another process's batch before its commit";
    auto second = open();  // store_ is still open
    EXPECT_FALSE(second->recovery().ran);
    EXPECT_TRUE(fs::exists(in_flight));
}

TEST_F(SqliteStoreTest, RowWithoutBodyIsReportedAtOpen) {
    const MessageId lost = add(message({"a@x.test"}));
    ASSERT_EQ(files_in("spool"), 1u);
    const fs::path lost_file = fs::directory_iterator(dir_ + "/queue/spool")->path();
    store_.reset();
    store_ = open();
    const MessageId fine = add(message({"b@x.test"}));
    store_.reset();
    fs::remove(lost_file);
    store_ = open();
    EXPECT_EQ(store_->recovery().missing_bodies, std::vector<MessageId>{lost});
    Body b;
    const StoreResult r = store_->open_body(lost, b);
    EXPECT_EQ(r.error, StoreError::Io);
    EXPECT_NE(r.detail.find("missing"), std::string::npos);
    EXPECT_EQ(read_body(*store_, fine), "Subject: hi\r\n\r\nhello\r\n");
}

TEST_F(SqliteStoreTest, BatchOfAThousandIsOneCommit) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < 1000; ++i)
        batch.push_back(message({"r" + std::to_string(i) + "@x.test"}, std::string(1024, 'x')));
    const std::uint64_t before = store_->commits();
    std::vector<MessageId> ids;
    const StoreResult r = store_->enqueue(batch, kNow, ids);
    ASSERT_TRUE(r) << r.detail;
    EXPECT_EQ(store_->commits() - before, 1u);
    ASSERT_EQ(ids.size(), 1000u);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_EQ(std::set<MessageId>(ids.begin(), ids.end()).size(), 1000u);
    EXPECT_EQ(files_in("spool"), 1u);  // the batch's bodies share one spool file
    EXPECT_EQ(due(kNow, 5000).size(), 1000u);
    EXPECT_EQ(show(ids[999]).recipients[0].address, "r999@x.test");
    NewMessage more = message({"s@x.test"});
    ASSERT_TRUE(store_->enqueue({&more, 1}, kNow, ids));
    EXPECT_EQ(files_in("spool"), 1u);  // and the next batch is appended to it
}

TEST_F(SqliteStoreTest, ABatchSpoolFileGoesWhenNoMessageInItNeedsItsBody) {
    std::vector<NewMessage> batch{message({"a@x.test"}, "body a"), message({"b@x.test"}, ""),
                                  message({"c@x.test", "d@x.test"}, "body c")};
    std::vector<MessageId> ids;
    ASSERT_TRUE(store_->enqueue(batch, kNow, ids));
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(files_in("spool"), 1u);
    EXPECT_EQ(read_body(*store_, ids[0]), "body a");
    EXPECT_EQ(read_body(*store_, ids[1]), "");
    EXPECT_EQ(read_body(*store_, ids[2]), "body c");
    record(ids[0], 0, Outcome::Sent, "250 ok");
    ASSERT_TRUE(store_->remove(ids[1]));
    record(ids[2], 0, Outcome::Sent, "250 ok");
    EXPECT_EQ(files_in("spool"), 1u);  // c has a recipient pending
    EXPECT_EQ(read_body(*store_, ids[2]), "body c");
    record(ids[2], 1, Outcome::PermFail, "550 no");
    EXPECT_EQ(files_in("spool"), 2u);  // failed: its body copied to a file of its own for `retry`
    EXPECT_EQ(read_body(*store_, ids[2]), "body c");
    ASSERT_TRUE(store_->retry(ids[2], kNow));
    record(ids[2], 1, Outcome::Sent, "250 at last");
    EXPECT_EQ(files_in("spool"), 1u);  // its own file went; nobody needs the batch's, but this
                                       // store still appends to it
    auto other = open();               // another store (a delivery engine) cannot take it
    NewMessage next = message({"e@x.test"});
    std::vector<MessageId> next_ids;
    ASSERT_TRUE(other->enqueue({&next, 1}, kNow, next_ids));
    EXPECT_EQ(files_in("spool"), 2u);
    store_.reset();                    // the store lets it go: deleted
    EXPECT_EQ(files_in("spool"), 1u);
    store_ = std::move(other);
    EXPECT_EQ(status_of(ids[0]), Status::Sent);
    EXPECT_EQ(status_of(ids[2]), Status::Sent);
    EXPECT_EQ(read_body(*store_, next_ids[0]), "Subject: hi\r\n\r\nhello\r\n");
}

TEST_F(SqliteStoreTest, AFailedMessageDoesNotKeepItsBatchsFile) {
    std::vector<NewMessage> batch{message({"a@x.test"}, "body a"), message({"b@x.test"}, "body b")};
    std::vector<MessageId> ids;
    ASSERT_TRUE(store_->enqueue(batch, kNow, ids));
    record(ids[0], 0, Outcome::PermFail, "550 no");  // error: stays until removed or retried
    record(ids[1], 0, Outcome::Sent, "250 ok");
    store_.reset();  // lets its append file go: only the failed body's own file stays
    EXPECT_EQ(files_in("spool"), 1u);
    store_ = open();
    EXPECT_EQ(store_->recovery().orphans_removed, 0u);
    EXPECT_TRUE(store_->recovery().missing_bodies.empty());
    EXPECT_EQ(status_of(ids[0]), Status::Error);
    EXPECT_EQ(read_body(*store_, ids[0]), "body a");
    ASSERT_TRUE(store_->remove(ids[0]));
    EXPECT_EQ(files_in("spool"), 0u);
}

TEST_F(SqliteStoreTest, ASpoolFileThatOnlyDeliveredMessagesUseIsRemovedAtOpen) {
    const MessageId id = add(message({"a@x.test"}));
    const fs::path file = fs::directory_iterator(dir_ + "/queue/spool")->path();
    record(id, 0, Outcome::Sent, "250 ok");
    fs::copy_file(file, dir_ + "/saved");
    store_.reset();
    EXPECT_FALSE(fs::exists(file));
    fs::rename(dir_ + "/saved", file);  // as if the store had crashed before its unlink
    store_ = open();
    EXPECT_EQ(store_->recovery().orphans_removed, 1u);
    EXPECT_EQ(files_in("spool"), 0u);
    EXPECT_EQ(status_of(id), Status::Sent);
}

TEST_F(SqliteStoreTest, BatchIsAllOrNothing) {
    std::vector<NewMessage> batch{message({"a@x.test"}), message({}), message({"c@x.test"})};
    std::vector<MessageId> ids;
    EXPECT_EQ(store_->enqueue(batch, kNow, ids).error, StoreError::BadInput);
    EXPECT_TRUE(ids.empty());
    batch[1] = message({"b@x.test\r\nRCPT TO:<evil@x.test>"});
    EXPECT_EQ(store_->enqueue(batch, kNow, ids).error, StoreError::BadInput);
    EXPECT_EQ(files_in("spool"), 0u);
    EXPECT_TRUE(due(kNow).empty());
}

TEST_F(SqliteStoreTest, BodiesOverTheLimitAreRefused) {
    store_.reset();
    store_ = open(1000);
    std::vector<MessageId> ids;
    NewMessage big = message({"a@x.test"}, std::string(1001, 'x'));
    EXPECT_EQ(store_->enqueue({&big, 1}, kNow, ids).error, StoreError::TooBig);
    // A body file over the limit is found out after the move, and removed again.
    const std::string file = store_->temp_dir() + "/big";
    std::ofstream(file) << std::string(1001, 'y');
    NewMessage by_file = message({"a@x.test"}, "");
    by_file.body_file = file;
    EXPECT_EQ(store_->enqueue({&by_file, 1}, kNow, ids).error, StoreError::TooBig);
    EXPECT_EQ(files_in("spool"), 0u);
    NewMessage fits = message({"a@x.test"}, std::string(1000, 'x'));
    EXPECT_TRUE(store_->enqueue({&fits, 1}, kNow, ids));
}

TEST_F(SqliteStoreTest, BodyFileIsMovedIntoTheSpool) {
    const std::string file = store_->temp_dir() + "/upload";
    std::ofstream(file) << "written by the caller";
    NewMessage m = message({"a@x.test"}, "");
    m.body_file = file;
    const MessageId id = add(m);
    EXPECT_FALSE(fs::exists(file));
    EXPECT_EQ(read_body(*store_, id), "written by the caller");
    EXPECT_EQ(show(id).size, 21u);
    m.body_file = store_->temp_dir() + "/no-such-file";
    std::vector<MessageId> ids;
    EXPECT_EQ(store_->enqueue({&m, 1}, kNow, ids).error, StoreError::Io);
}

TEST_F(SqliteStoreTest, TwoOpenersNeverShareAnId) {
    // Two stores on one queue stand for a server and the command line: their counters run
    // apart; ids are taken inside the write transaction above the largest, and O_EXCL
    // keeps the spool file names apart.
    auto second = open();
    std::set<MessageId> seen;
    for (int i = 0; i < 200; ++i) {
        Store& s = i % 2 ? static_cast<Store&>(*second) : *store_;
        std::vector<NewMessage> batch{message({"a@x.test"}, std::to_string(i)),
                                      message({"b@x.test"}, std::to_string(i) + "b")};
        std::vector<MessageId> ids;
        ASSERT_TRUE(s.enqueue(batch, kNow, ids));
        ASSERT_EQ(ids.size(), 2u);
        EXPECT_TRUE(seen.insert(ids[0]).second) << ids[0].text();
        EXPECT_TRUE(seen.insert(ids[1]).second) << ids[1].text();
        EXPECT_EQ(read_body(*store_, ids[0]), std::to_string(i));
        EXPECT_EQ(read_body(*store_, ids[1]), std::to_string(i) + "b");
    }
    EXPECT_EQ(files_in("spool"), 2u);  // one append file each
}

// Schema 1 (2026-12-06): a spool file per message, named after it; one queued message.
void make_schema_one_queue(const std::string& dir, MessageId id) {
    fs::create_directories(dir + "/spool");
    std::ofstream(dir + "/spool/" + id.text()) << "old body";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/queue.db").c_str(), &db), SQLITE_OK);
    const std::string v1 =
        "CREATE TABLE message (id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, sender TEXT NOT NULL, "
        "size INTEGER NOT NULL, created INTEGER NOT NULL, status INTEGER NOT NULL, recipients INTEGER NOT NULL, "
        "pending INTEGER NOT NULL, failed INTEGER NOT NULL, next_attempt INTEGER);"
        "CREATE INDEX message_due ON message(next_attempt) WHERE status = 0;"
        "CREATE INDEX message_status ON message(status, id);"
        "CREATE TABLE recipient (message INTEGER NOT NULL, n INTEGER NOT NULL, address TEXT NOT NULL, "
        "status INTEGER NOT NULL, attempts INTEGER NOT NULL, last_reply TEXT NOT NULL, next_attempt INTEGER, "
        "PRIMARY KEY (message, n)) WITHOUT ROWID;"
        "INSERT INTO message VALUES (" + std::to_string(id.value) + ", 1, 'a@x.test', 8, 1, 0, 1, 1, 0, 1);"
        "INSERT INTO recipient VALUES (" + std::to_string(id.value) + ", 0, 'b@x.test', 0, 0, '', 1);"
        "PRAGMA user_version = 1;";
    ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
}

TEST_F(SqliteStoreTest, ASchemaOneQueueIsNotMigratedUnderAnotherOpener) {
    store_.reset();
    fs::remove_all(dir_ + "/queue");
    make_schema_one_queue(dir_ + "/queue", MessageId{0x0191d2c4a7f00001});
    const int other = ::open((dir_ + "/queue/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(other, 0);
    ASSERT_EQ(::flock(other, LOCK_SH), 0);  // an older ringmail with the queue open
    try {
        open();
        ADD_FAILURE() << "opened a schema 1 queue another process has open";
    } catch (const StoreOpenError& e) {
        EXPECT_NE(std::string(e.what()).find("older"), std::string::npos) << e.what();
    }
    ::close(other);
    store_ = open();  // alone: migrated
    EXPECT_EQ(read_body(*store_, MessageId{0x0191d2c4a7f00001}), "old body");
}

TEST_F(SqliteStoreTest, AQueueOfSchemaOneIsMigrated) {
    store_.reset();
    fs::remove_all(dir_ + "/queue");
    const MessageId id{0x0191d2c4a7f00001};
    make_schema_one_queue(dir_ + "/queue", id);
    store_ = open();
    EXPECT_EQ(store_->recovery().orphans_removed, 0u);
    EXPECT_TRUE(store_->recovery().missing_bodies.empty());
    EXPECT_EQ(read_body(*store_, id), "old body");
    EXPECT_FALSE(show(id).route.has_value());  // schema 3's column, empty for old rows
    EXPECT_GT(add(message({"c@x.test"})), id);
    record(id, 0, Outcome::Sent, "250 ok");
    EXPECT_FALSE(fs::exists(dir_ + "/queue/spool/" + id.text()));
}

}  // namespace
}  // namespace ringmail::relay
