#!/usr/bin/env python3
"""How much a thread wake-up costs on this machine: two processes pass a byte back and forth through pipes,
each blocking in read() until the other writes, first pinned to two different CPUs, then to the same one.

    scripts/wakeup-probe.py [round-trips]      (default 20000)

Prints one line per placement in microseconds per round trip (two wake-ups each), and the guest's idle
polling setting where the kernel has one (/sys/module/haltpoll/parameters/guest_halt_poll_ns; 0 means an idle
virtual CPU halts at once and is woken through the hypervisor). A server that hands work between threads
pays the cross-CPU figure at every hand-off that finds the other CPU idle: docs/benchmarks.md,
"What a wake-up costs on this machine".
"""
import os
import sys
import time

ROUND_TRIPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
HALT_POLL = "/sys/module/haltpoll/parameters/guest_halt_poll_ns"


def ping_pong(parent_cpu, child_cpu):
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {child_cpu})
        for _ in range(ROUND_TRIPS):
            os.read(to_child_r, 1)
            os.write(to_parent_w, b"x")
        os._exit(0)
    os.sched_setaffinity(0, {parent_cpu})
    time.sleep(0.05)  # the child is pinned and waiting
    start = time.perf_counter()
    for _ in range(ROUND_TRIPS):
        os.write(to_child_w, b"x")
        os.read(to_parent_r, 1)
    elapsed = time.perf_counter() - start
    os.waitpid(pid, 0)
    for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
        os.close(fd)
    return elapsed / ROUND_TRIPS * 1e6


def main():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        print(f"wake-up round trip, two CPUs: {ping_pong(cpus[0], cpus[1]):.1f} us")
    print(f"wake-up round trip, one CPU:  {ping_pong(cpus[0], cpus[0]):.1f} us")
    try:
        with open(HALT_POLL) as f:
            print(f"guest_halt_poll_ns: {f.read().strip()}")
    except OSError:
        print("guest_halt_poll_ns: (no haltpoll module)")


if __name__ == "__main__":
    main()
