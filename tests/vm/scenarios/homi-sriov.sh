# homid with an SR-IOV PF (0000:01:00.0) that stays on the kernel nvme driver with XFS mounted
# (300 MiB of namespace 1's 512 MiB). The daemon assigns resources, enables two VFs, attaches
# namespace 2 (created detached) to VF 2 only, brings them online, binds them to vfio-pci and
# serves them as pf0.vf1 and pf0.vf2, each granted whole to one client at a time (IOMMU on: a
# client's DMA goes through its VF's own IOMMU container). SIGTERM returns every resource; after a
# kill -9 of the daemon the next one refuses until aisio sriov disable has returned them.

PF=0000:01:00.0
SOCK=/run/aisio/homid.sock
HPID=
trap 'echo "---- homid log ----"; cat /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"' EXIT
OK="verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0"

mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm # the extent service's shared index
check "the PF is on nvme" [ "$(pci_driver $PF)" = nvme ]
check "namespace 2 is detached: the PF does not see it" [ ! -e /dev/nvme0n2 ]
step_out "256 reserved" aisio hugepages --reserve 256
step mount -t xfs /dev/nvme0n1 /mnt
step vm-blkutil random /mnt/data 4194304 42
step sync
md5sum /mnt/data | cut -d' ' -f1 >/tmp/md5.before
check "md5 of the file through the PF: $(cat /tmp/md5.before)" [ -s /tmp/md5.before ]

cat >/tmp/homid.conf <<EOF
[homid]
socket = $SOCK
log = stderr
log_level = debug
open_retry = 10
# TCG on a loaded 2-core host: QEMU's controller can take longer than the default 10 s for an admin command
admin_timeout = 60

[device pf0]
sriov = $PF
sriov_vfs = 2
sriov_vq = 3
sriov_vi = 1
sriov_namespaces = 1
sriov_namespaces_vf2 = 1 2
extents = /mnt
extents_nsid = 1
EOF
step_out "pf0.vf2: VF 2 of pf0, namespaces 1 2" homid --config /tmp/homid.conf --check
step_refused "sets both device = and sriov =" sh -c "sed 's/^sriov = .*/&\ndevice = $PF/' /tmp/homid.conf >/tmp/bad.conf && homid --config /tmp/bad.conf --check"

homid --config /tmp/homid.conf >/tmp/homid.log 2>&1 &
HPID=$!
check "homid (pid $HPID) brings the VFs up and answers (bounded, 90 s)" homid_ready 180
step aisio homi status
step_out "\"name\": \"pf0.vf1\", \"target\": \"0000:01:00.1\", \"kind\": \"sriov-vf\", .*\"sriov\": \{\"pf\": \"pf0\", \"vf\": 1, \"cntlid\": [0-9]+, \"state\": \"online\", \"vq\": 3, \"vi\": 1, \"namespaces_attached\": \[1\], \"resets\": 0, \"holder\": null\}" \
	aisio homi status --json
check "VF 2 has namespaces 1 and 2" grep -Eq '"name": "pf0.vf2", .*"namespaces_attached": \[1, 2\]' /tmp/step.out
check "the PF: 2 VFs enabled" grep -Eq '"name": "pf0", "target": "'$PF'", "kind": "sriov-pf", .*"sriov": \{"cntlid": [0-9]+, "vfs": 2,' /tmp/step.out
step_out '"sriov_numvfs": 2, "sriov_totalvfs": 2, "sriov_drivers_autoprobe": 0' aisio sriov status --json $PF
check "VQ: 6 assigned" grep -Eq '"vq": \{"flexible_total": 8, "assigned": 6,' /tmp/step.out
check "VF 1 online" grep -Eq '"vfn": 1, "state": "online", "vq": 3, "vi": 1, "bdf": "0000:01:00.1"' /tmp/step.out
check "VF 2 online" grep -Eq '"vfn": 2, "state": "online", "vq": 3, "vi": 1, "bdf": "0000:01:00.2"' /tmp/step.out
check "VF 1 on vfio-pci" [ "$(pci_driver 0000:01:00.1)" = vfio-pci ]
check "VF 2 on vfio-pci" [ "$(pci_driver 0000:01:00.2)" = vfio-pci ]
step_refused "is an SR-IOV PF on the kernel nvme driver" aisio perf verify $TMO --size 1024 homi:pf0

# Two clients at once, each on its own VF, on disjoint LBA ranges past the file system (LBA 720000 on).
two_clients() {
	timeout "$STEP_TIMEOUT" aisio perf verify $TMO --force --qdepth 16 --offset 720000 --size 16384 --seed 11 \
		homi:pf0.vf1 >/tmp/c1.out 2>&1 &
	p1=$!
	timeout "$STEP_TIMEOUT" aisio perf verify $TMO --force --qdepth 16 --offset 740000 --size 16384 --seed 12 \
		homi:pf0.vf2 >/tmp/c2.out 2>&1 &
	p2=$!
	wait $p1
	r1=$?
	wait $p2
	r2=$?
	echo "client on VF 1 (LBAs 720000..736383): exit $r1"
	cat /tmp/c1.out
	echo "client on VF 2 (LBAs 740000..756383): exit $r2"
	cat /tmp/c2.out
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && grep -Eq "$OK" /tmp/c1.out && grep -Eq "$OK" /tmp/c2.out
}
step two_clients

# A file's blocks through a VF (extents from the daemon's extent service) are the PF's bytes.
vf_reads_file() {
	runs=$(aisio homi extents pf0 data | sed -n 's/.*: LBA \([0-9]*\) + \([0-9]*\).*/\1:\2/p')
	[ -n "$runs" ] || return 1
	echo "data: runs $runs"
	homi-read homi:pf0.vf1 $runs | head -c 4194304 >/tmp/via-vf || return 1
	cmp /tmp/via-vf /mnt/data
}
step vf_reads_file

# A VF sees only the namespaces attached to it: namespace 2 on VF 2, not on VF 1 (its controller's
# own Identify, as the daemon brought it up, lists one namespace).
check "VF 1's controller has 1 namespace" grep -q "pf0.vf1: 0000:01:00.1 up: 2 queue pairs, 1 namespace(s)" /tmp/homid.log
check "VF 2's controller has 2" grep -q "pf0.vf2: 0000:01:00.2 up: 2 queue pairs, 2 namespace(s)" /tmp/homid.log
step_refused "no active namespace 2" aisio perf verify $TMO --nsid 2 --size 1024 homi:pf0.vf1
step_out "$OK" aisio perf verify $TMO --nsid 2 --size 8192 --seed 5 homi:pf0.vf2

# One client per VF: a second is refused while the first holds it; kill -9 of the holder resets
# the VF, and the next client gets it.
status_shows() { # REGEX: a line of `aisio homi status` matches it (bounded, 60 s)
	i=0
	while [ $i -lt 120 ]; do
		aisio homi status | grep -Eq -- "$1" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	aisio homi status
	return 1
}
resets_of() { # DEV: its resets so far (the VF table of `aisio homi status`)
	aisio homi status | awk -v d="$1" '$1 == d && $2 ~ /^[0-9]+$/ { print $9 }'
}
aisio perf run $TMO --iopattern randread --qdepth 16 --runtime 60 homi:pf0.vf1 >/tmp/bg.out 2>&1 &
BPID=$!
check "the client (pid $BPID) holds VF 1" status_shows "^pf0.vf1 .* client [0-9]+ \(pid $BPID, uid 0\)$"
step_refused "VF pf0.vf1 is granted to client [0-9]+ \(pid $BPID, uid 0\): one client per VF" \
	aisio perf verify $TMO --force --offset 720000 --size 1024 homi:pf0.vf1
RESETS=$(resets_of pf0.vf1)
check "VF 1 reset $RESETS times so far (once per client that let it go)" [ -n "$RESETS" ]
step kill -9 $BPID
wait $BPID
check "the killed client died by SIGKILL (status 137)" [ $? -eq 137 ]
# VF 1 reset once more, free again
step status_shows "^pf0.vf1 +1 +0000:01:00.1 +[0-9]+ +online +3 +1 +1 +$((RESETS + 1)) +-$"
step_out "$OK" aisio perf verify $TMO --force --qdepth 16 --offset 720000 --size 16384 --seed 13 homi:pf0.vf1
check "no DMA faults in the kernel log" no_dma_faults

# The file through the PF: the same before and after, also across an unmount and mount.
check "md5 unchanged" [ "$(md5sum /mnt/data | cut -d' ' -f1)" = "$(cat /tmp/md5.before)" ]

# SIGTERM: VFs closed, namespaces back as they were, secondaries offline, VFs disabled, resources returned.
step kill -TERM "$HPID"
step homid_exited
step_out '"sriov_numvfs": 0, "sriov_totalvfs": 2, "sriov_drivers_autoprobe": 1' aisio sriov status --json $PF
check "VQ: none assigned" grep -Eq '"vq": \{"flexible_total": 8, "assigned": 0,' /tmp/step.out
check "VI: none assigned" grep -Eq '"vi": \{"flexible_total": 4, "assigned": 0,' /tmp/step.out
check "VF 1 offline, no resources" grep -Eq '"vfn": 1, "state": "offline", "vq": 0, "vi": 0, "bdf": null' /tmp/step.out
check "VF 2 offline, no resources" grep -Eq '"vfn": 2, "state": "offline", "vq": 0, "vi": 0, "bdf": null' /tmp/step.out
check "the VFs are gone" [ ! -e /sys/bus/pci/devices/0000:01:00.1 ]
step_out "pf0: SR-IOV PF $PF: resources returned, namespaces as before" cat /tmp/homid.log
step umount /mnt
step mount -t xfs /dev/nvme0n1 /mnt
check "md5 unchanged across umount and mount" [ "$(md5sum /mnt/data | cut -d' ' -f1)" = "$(cat /tmp/md5.before)" ]

# A daemon killed -9 leaves the VFs enabled: the next one refuses to guess whose they are and says how to
# return them; after aisio sriov disable it brings them up again.
echo "---- homid started again ----" >>/tmp/homid.log
homid --config /tmp/homid.conf >>/tmp/homid.log 2>&1 &
HPID=$!
check "homid (pid $HPID) is up again" homid_ready 180
step kill -9 "$HPID"
wait "$HPID" 2>/dev/null
step_refused "sriov = $PF has VFs enabled already .*aisio sriov disable $PF" timeout 60 homid --config /tmp/homid.conf
step_out "resources returned: VQ assigned to secondaries 6 -> 0, VI 2 -> 0" aisio sriov disable $PF
homid --config /tmp/homid.conf >>/tmp/homid.log 2>&1 &
HPID=$!
check "homid (pid $HPID) brings the VFs up after aisio sriov disable" homid_ready 180
step_out "$OK" aisio perf verify $TMO --force --offset 720000 --size 4096 --seed 14 homi:pf0.vf2
step kill -TERM "$HPID"
step homid_exited
step_out '"sriov_numvfs": 0, ' aisio sriov status --json $PF
check "VQ: none assigned" grep -Eq '"vq": \{"flexible_total": 8, "assigned": 0,' /tmp/step.out
step umount /mnt
check "no hugepage in use" sh -c "aisio hugepages | grep -q ', 0 in use'"
check "no DMA faults in the kernel log" no_dma_faults
