# homid on QEMU's NVMe controller through vfio-pci with an emulated IOMMU: the daemon maps each
# client's hugepage memory (VFIO_IOMMU_MAP_DMA) and hands out the device fd for the doorbells.
# Status, two clients at once, a client killed mid-I/O and its queues taken back, SIGTERM.

BDF=$(nvme_bdf 1)
SOCK=/run/aisio/homid.sock
DEV=homi:nvme0
HPID=
# the daemon's log, whatever happens: it is what a failed step is debugged from
trap 'echo "---- homid log ----"; cat /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"' EXIT

check "an NVMe function is present" [ -n "$BDF" ]
step_out "256 reserved" aisio hugepages --reserve 256
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
# Clients that are not root: aisio (uid 1000) may use nvme0; other (uid 1001, in aisio's group,
# so it may connect) may not.
echo "aisio:x:1000:1000:aisio:/tmp:/bin/sh" >>/etc/passwd
echo "other:x:1001:1001:other:/tmp:/bin/sh" >>/etc/passwd
printf 'aisio:x:1000:other\nother:x:1001:\n' >>/etc/group
cat >/tmp/homid.conf <<EOF
[homid]
socket = $SOCK
socket_mode = 0660
socket_group = 1000
log = stderr
log_level = debug
open_retry = 10
# TCG on a loaded 2-core host: QEMU's controller can take longer than the default 10 s for an admin command
admin_timeout = 60

[device nvme0]
device = $BDF
users = 1000
EOF
step_out "1 device\(s\), socket $SOCK" homid --config /tmp/homid.conf --check


homid --config /tmp/homid.conf >/tmp/homid.log 2>&1 &
HPID=$!
check "homid (pid $HPID) is up and answers" homid_ready
hugepages_in_use() {
	aisio hugepages | sed -n 's/.*, \([0-9]*\) in use.*/\1/p'
}
DAEMON_PAGES=$(hugepages_in_use) # the daemon's own DMA memory (admin queue)
check "hugepages in use by the daemon alone: $DAEMON_PAGES" [ -n "$DAEMON_PAGES" ]
step_out "^nvme0 +vfio +0/[0-9]+ +shared +$BDF" aisio homi status
step_out "\"name\": \"nvme0\", \"target\": \"$BDF\", \"kind\": \"vfio\", \"doorbells_isolated\": false, .*\"used_qpairs\": 0" \
	aisio homi status --json

# Two clients at once, each with its own memory mapped by the daemon, on disjoint LBA ranges.
two_clients() {
	timeout "$STEP_TIMEOUT" aisio perf verify $TMO --iosize 16384 --qdepth 32 --offset 0 --size 32768 \
		--seed 11 $DEV >/tmp/c1.out 2>&1 &
	p1=$!
	timeout "$STEP_TIMEOUT" aisio perf verify $TMO --iosize 4096 --qdepth 16 --offset 32768 --size 16384 \
		--seed 12 $DEV >/tmp/c2.out 2>&1 &
	p2=$!
	wait $p1
	r1=$?
	wait $p2
	r2=$?
	echo "client 1 (LBAs 0..32767): exit $r1"
	cat /tmp/c1.out
	echo "client 2 (LBAs 32768..49151): exit $r2"
	cat /tmp/c2.out
	ok="verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0"
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && grep -Eq "$ok" /tmp/c1.out && grep -Eq "$ok" /tmp/c2.out
}
step two_clients
# A client that is not root, under the default memlock limit (8 MiB here): the daemon pins its
# memory (VFIO_IOMMU_MAP_DMA, charged to the daemon), the client locks nothing itself.
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
	su -s /bin/sh aisio -c "aisio perf verify $TMO --iosize 16384 --qdepth 32 --offset 49152 --size 16384 --seed 15 $DEV"
step_refused "offers this user no device 'nvme0'" su -s /bin/sh other -c "aisio perf verify $TMO --size 1024 $DEV"
# (the status request is a client itself, holding no queue)
step_out '"used_qpairs": 0, .*"qpairs": \[\]\}$' aisio homi status --json

# A client killed with SIGKILL in the middle of writes: the daemon deletes its SQ and CQ and
# unmaps its memory when the connection drops.
status_num() { # KEY: a number from `aisio homi status --json`
	aisio homi status --json | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"
}
client_has_qpairs() { # PID: the daemon shows that client holding a queue pair (bounded, 30 s)
	i=0
	while [ $i -lt 60 ]; do
		aisio homi status --json | grep -Eq "\"pid\": $1, [^}]*\"qpairs\": [1-9]" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
reclaimed() { # BEFORE: more queue pairs taken back than BEFORE, none in use (bounded, 20 s)
	i=0
	while [ $i -lt 40 ]; do
		r=$(status_num reclaimed_qpairs)
		u=$(status_num used_qpairs)
		echo "reclaimed_qpairs $r (was $1), used_qpairs $u"
		[ -n "$r" ] && [ "$r" -gt "$1" ] && [ "$u" = 0 ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
BEFORE=$(status_num reclaimed_qpairs)
check "reclaimed_qpairs is a number ($BEFORE)" [ -n "$BEFORE" ]
aisio perf run $TMO --iopattern randwrite --qdepth 64 --iosize 16384 --runtime 20 $DEV >/tmp/bg.out 2>&1 &
PID=$!
check "the client (pid $PID) holds a queue pair" client_has_qpairs $PID
sleep 3
step_out "\"pid\": $PID, " aisio homi status --json
step kill -9 $PID
wait $PID
check "the killed client died by SIGKILL (status 137)" [ $? -eq 137 ]
cat /tmp/bg.out
step reclaimed "$BEFORE"
step_out '"qpairs": \[\]\}$' aisio homi status --json
check "the killed client is gone from the status" sh -c "! aisio homi status --json | grep -q '\"pid\": $PID, '"
# its memory unmapped from the IOMMU and let go: the hugepages are free again
check "hugepages in use back to the daemon's $DAEMON_PAGES ($(hugepages_in_use))" [ "$(hugepages_in_use)" = "$DAEMON_PAGES" ]
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
	aisio perf verify $TMO --iosize 16384 --qdepth 64 --size 32768 --seed 13 $DEV
step aisio perf run $TMO --iopattern randread --qdepth 32 --runtime 2 --json $DEV
check "after the kill: IOPS > 0 and no failed I/O" perf_ok
check "no DMA faults in the kernel log" no_dma_faults

# SIGTERM with a client mid-I/O: the daemon takes its queues back, tells it, exits 0 and removes
# its socket; the client stops with a message, not a hang; a client started afterwards fails at once.
client_stopped() { # PID OUT: stopped within 45 s with a failure that names the daemon
	pid_wait "$1" 90 || return 1
	echo "client exited with status $WAIT_RC"
	cat "$2"
	[ "$WAIT_RC" -ne 0 ] && grep -q "homid daemon has gone" "$2"
}
aisio perf run $TMO --iopattern randread --qdepth 32 --runtime 30 $DEV >/tmp/live.out 2>&1 &
LPID=$!
check "the client (pid $LPID) holds a queue pair" client_has_qpairs $LPID
sleep 2
step kill -TERM "$HPID"
step homid_exited
check "the socket $SOCK is gone" [ ! -e "$SOCK" ]
step client_stopped $LPID /tmp/live.out
STEP_TIMEOUT=20
step_refused "no homid daemon answers" aisio perf verify $TMO --size 1024 $DEV
step_refused "no homid daemon answers" aisio homi status
STEP_TIMEOUT=90
check "the function is still on vfio-pci" [ "$(pci_driver "$BDF")" = vfio-pci ]

# A new daemon takes the function over and serves clients; stopped, it leaves no hugepage in use.
echo "---- homid restarted ----" >>/tmp/homid.log
homid --config /tmp/homid.conf >>/tmp/homid.log 2>&1 &
HPID=$!
check "homid (pid $HPID) is up again and answers" homid_ready
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
	aisio perf verify $TMO --iosize 8192 --qdepth 32 --size 16384 --seed 14 $DEV

# The daemon killed with -9 while a client (stopped, so it cannot notice) still holds the vfio device
# fd it was given: a new daemon cannot take the function yet; it says so and retries (open_retry),
# and brings it up once that client is gone.
aisio perf run $TMO --iopattern randread --qdepth 32 --runtime 60 $DEV >/tmp/hold.out 2>&1 &
CPID=$!
check "the client (pid $CPID) holds a queue pair" client_has_qpairs $CPID
step kill -STOP "$CPID"
step kill -9 "$HPID"
wait "$HPID" 2>/dev/null
echo "---- homid started while a stopped client holds the device ----" >>/tmp/homid.log
homid --config /tmp/homid.conf >>/tmp/homid.log 2>&1 &
HPID=$!
said_busy() { # bounded, 20 s
	i=0
	while [ $i -lt 40 ]; do
		grep -q "is busy (an earlier daemon's clients may still hold it); retrying" /tmp/homid.log && return 0
		sleep 0.5
		i=$((i + 1))
	done
	tail -5 /tmp/homid.log
	return 1
}
check "the new daemon says the function is busy and retries" said_busy
check "and does not answer yet" sh -c "! aisio homi status >/dev/null 2>&1"
step kill -9 "$CPID"
wait "$CPID" 2>/dev/null
check "homid (pid $HPID) comes up once the client is gone" homid_ready
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
	aisio perf verify $TMO --iosize 8192 --qdepth 32 --size 16384 --seed 15 $DEV
step kill -TERM "$HPID"
step homid_exited
check "no hugepage in use ($(hugepages_in_use))" [ "$(hugepages_in_use)" = 0 ]
check "no DMA faults in the kernel log" no_dma_faults
