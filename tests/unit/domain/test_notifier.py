"""The NOTIFY after committed saves: sent by a thread of its own, one per burst of commits, never
blocking the save; a failed one leaves the thread alive (the runners' poll covers it)."""

from __future__ import annotations

import threading

from settlement_domain.notifier import CoalescedNotifier

BOUND = 5.0


def test_pokes_during_a_send_are_one_more_send() -> None:
    entered = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        entered.set()
        assert release.wait(BOUND)

    notifier = CoalescedNotifier(send)
    try:
        notifier.poke()
        assert entered.wait(BOUND)  # the first NOTIFY is on its way (and slow)
        for _ in range(50):
            notifier.poke()  # fifty commits meanwhile; none of them waits
        release.set()
    finally:
        notifier.close()
    assert len(calls) == 2 and notifier.sent == 2


def test_close_sends_what_was_wanted_before_it() -> None:
    sent = threading.Event()
    notifier = CoalescedNotifier(sent.set)
    notifier.poke()
    notifier.close()
    assert sent.is_set() and notifier.sent == 1
    notifier.poke()  # after close: nothing (the store is closed)
    assert notifier.sent == 1


def test_a_failed_notify_is_counted_and_the_next_is_sent() -> None:
    attempts: list[int] = []
    done = threading.Event()

    def send() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("connection lost")
        done.set()

    notifier = CoalescedNotifier(send)
    try:
        notifier.poke()
        for _ in range(100):
            if notifier.failed:
                break
            threading.Event().wait(0.01)
        notifier.poke()
        assert done.wait(BOUND)
    finally:
        notifier.close()
    assert notifier.failed == 1 and notifier.sent == 1


def test_no_thread_until_the_first_commit() -> None:
    notifier = CoalescedNotifier(lambda: None)
    assert notifier._thread is None
    notifier.close()
    assert notifier.sent == 0


def test_an_idle_thread_ends_and_the_next_commit_starts_another() -> None:
    """No thread outlives its work: an application never closed is not kept alive by it."""
    sent = threading.Semaphore(0)
    notifier = CoalescedNotifier(sent.release, idle_seconds=0.05)
    try:
        notifier.poke()
        assert sent.acquire(timeout=BOUND)
        for _ in range(200):
            if notifier._thread is None:
                break
            threading.Event().wait(0.01)
        assert notifier._thread is None
        notifier.poke()
        assert sent.acquire(timeout=BOUND)
        assert notifier.sent == 2
    finally:
        notifier.close()


def test_a_poke_while_the_idle_thread_ends_is_never_lost() -> None:
    # The window between the idle thread's last look at the flag and its end is widened: a poke in it
    # must still be sent (by the thread going on, or by a new one), not wait for the next save.
    sent = threading.Semaphore(0)
    checking = threading.Event()

    class SlowFlag(threading.Event):
        def is_set(self) -> bool:
            value = super().is_set()
            if threading.current_thread().name == "settlement-notify" and not value:
                checking.set()
                threading.Event().wait(0.2)  # the thread has looked: nothing wanted, about to end
            return value

    notifier = CoalescedNotifier(sent.release, idle_seconds=0.01)
    notifier._wanted = SlowFlag()
    try:
        notifier.poke()
        assert sent.acquire(timeout=BOUND)  # the first NOTIFY
        assert checking.wait(BOUND)  # the thread, idle, is ending
        notifier.poke()
        assert sent.acquire(timeout=BOUND), "the poke made while the thread ended was lost"
    finally:
        notifier.close()
