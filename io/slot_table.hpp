// io/slot_table.hpp — objects named by (slot, generation) instead of pointers. A
// completion or a message from another thread carries the name; when the object was
// freed (and perhaps its slot reused) since, find() gives nullptr and the late arrival is
// dropped, never applied to a stranger. Owned and used by one thread.
#pragma once
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ringmail::io {

struct SlotId {
    std::uint32_t slot = 0;
    std::uint32_t gen = 0;  // only the low kGenBits travel in user_data
    static constexpr unsigned kGenBits = 22;
    // 54 bits: fits a Ring payload (56) with two bits to spare for an operation code.
    std::uint64_t pack() const noexcept {
        return std::uint64_t(slot) | (std::uint64_t(gen & ((1u << kGenBits) - 1)) << 32);
    }
    static SlotId unpack(std::uint64_t v) noexcept {
        return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32) & ((1u << kGenBits) - 1)};
    }
    friend bool operator==(SlotId, SlotId) = default;
};

template <class T>
class SlotTable {
public:
    // Constructs a T in a free slot (reusing freed ones first) and names it.
    template <class... Args>
    std::pair<SlotId, T*> emplace(Args&&... args) {
        return emplace_impl(false, std::forward<Args>(args)...);
    }
    // The same, with the name as the constructor's first argument: T(SlotId, args...).
    template <class... Args>
    std::pair<SlotId, T*> emplace_named(Args&&... args) {
        return emplace_impl(true, std::forward<Args>(args)...);
    }

private:
    template <class... Args>
    std::pair<SlotId, T*> emplace_impl(bool named, Args&&... args) {
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            slot = static_cast<std::uint32_t>(entries_.size());
            entries_.emplace_back();
        }
        Entry& e = entries_[slot];
        const SlotId id{slot, e.gen};
        if constexpr (std::is_constructible_v<T, SlotId, Args...>) {
            if (named) e.obj = std::make_unique<T>(id, std::forward<Args>(args)...);
        }
        if constexpr (std::is_constructible_v<T, Args...>) {
            if (!named) e.obj = std::make_unique<T>(std::forward<Args>(args)...);
        }
        ++live_;
        return {id, e.obj.get()};
    }

public:

    // The object still named `id`, or nullptr when it was erased since. Compares the
    // generation bits that travel (SlotId::kGenBits).
    T* find(SlotId id) const noexcept {
        if (id.slot >= entries_.size()) return nullptr;
        const Entry& e = entries_[id.slot];
        constexpr std::uint32_t mask = (1u << SlotId::kGenBits) - 1;
        return e.obj && (e.gen & mask) == (id.gen & mask) ? e.obj.get() : nullptr;
    }

    // Frees the object; its name is dead from now on.
    void erase(SlotId id) noexcept {
        if (!find(id)) return;
        Entry& e = entries_[id.slot];
        e.obj.reset();
        ++e.gen;
        free_.push_back(id.slot);
        --live_;
    }

    std::size_t size() const noexcept { return live_; }

    // Calls f(id, T&) for every live object; f may erase the one it is given.
    template <class F>
    void for_each(F&& f) {
        for (std::uint32_t i = 0; i < entries_.size(); ++i)
            if (entries_[i].obj) f(SlotId{i, entries_[i].gen}, *entries_[i].obj);
    }

private:
    struct Entry {
        std::uint32_t gen = 0;
        std::unique_ptr<T> obj;
    };
    std::vector<Entry> entries_;
    std::vector<std::uint32_t> free_;
    std::size_t live_ = 0;
};

}  // namespace ringmail::io
