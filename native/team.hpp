// A fixed team of threads owned by one kernel. run(n, f) calls f(0) .. f(n-1) at once, f(0) on the
// calling thread, and returns when every call has returned (a barrier). forEach(n, count, f) hands the
// items 0 .. count-1 to the n threads one at a time, whichever is free (a thread the OS has descheduled
// holds up no one's share). Each item is computed whole by one thread, so when the items write disjoint
// outputs, every float is produced by the same operations whatever n is and whichever thread took it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace bopt {

class Team {
 public:
  Team() = default;
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;
  ~Team() { stop(); }

  // Threads in the team, the caller included.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    if (n < 1) n = 1;
    if (n == size()) return;
    stop();
    stopping_ = false;
    errors_.assign(n, nullptr);
    // A new thread starts from the current generation: it must not miss a run() that begins before it
    // first takes the lock.
    const uint64_t start = generation_;
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, start] { loop(i, start); });
  }

  // f(thread, item) for every item in [0, count), over n threads (the caller's included).
  void forEach(int n, size_t count, const std::function<void(int, size_t)>& f) {
    std::atomic<size_t> next{0};
    run(n, [&](int t) {
      for (size_t q; (q = next.fetch_add(1, std::memory_order_relaxed)) < count;) f(t, q);
    });
  }

  void run(int n, const std::function<void(int)>& f) {
    if (n > size()) n = size();
    if (n <= 1) {
      f(0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &f;
      jobThreads_ = n;
      pending_ = n - 1;
#if defined(__x86_64__) || defined(__i386__)
      // The helpers compute with the caller's floating-point state (flush-to-zero, denormals-are-zero):
      // the numbers must not depend on which thread computed them.
      csr_ = _mm_getcsr();
#endif
      generation_++;
    }
    wake_.notify_all();
    std::exception_ptr first;
    try {
      f(0);
    } catch (...) {
      first = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    for (int i = 1; i < n && !first; i++)
      if (errors_[i]) first = errors_[i];
    for (int i = 1; i < n; i++) errors_[i] = nullptr;
    if (first) std::rethrow_exception(first);
  }

 private:
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int jobThreads_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  unsigned csr_ = 0;
  bool stopping_ = false;
  std::vector<std::exception_ptr> errors_;

  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= jobThreads_) continue;  // not needed for this one
        job = job_;
#if defined(__x86_64__) || defined(__i386__)
        _mm_setcsr(csr_);
#endif
      }
      std::exception_ptr error;
      try {
        (*job)(index);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(m_);
      errors_[index] = error;
      if (--pending_ == 0) done_.notify_one();
    }
  }
};

}  // namespace bopt
