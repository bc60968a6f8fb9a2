/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/gpu/ipc-timeslice: what a GPU client of homid meets when the daemon's engine kernel and the
 * client's kernel are two processes on one GPU (no MPS). The server process keeps a persistent
 * kernel answering a mailbox in its GPU memory; the client imports the mailbox with CUDA IPC and its
 * kernel does N request/answer round trips. The server also imports and closes a client buffer
 * while its persistent kernel runs (what homid does when a client registers memory and goes away),
 * timing both calls and bounding them with alarm(): a call that waits for the running kernel would
 * hang the daemon.
 *
 *   ipc-timeslice server DIR      (runs until DIR/stop exists, at most 120 s)
 *   ipc-timeslice client DIR N    (prints one JSON line)
 */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_cuda.cuh"

struct mailbox {
	unsigned req;
	unsigned pad[31];
	unsigned ans;
	unsigned pad2[31];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* server: answer every request until *stop (pinned host memory) or the lifetime ends */
__global__ void serve(struct mailbox *m, volatile unsigned *stop, unsigned long long life_ns,
		      unsigned long long *served)
{
	unsigned long long end = gtimer() + life_ns, n = 0;
	volatile struct mailbox *v = m;
	while (!*stop && gtimer() < end) {
		unsigned r = v->req;
		if (r != v->ans) {
			v->ans = r;
			__threadfence();
			n++;
		}
	}
	*served = n;
}

/* client: n round trips, each bounded by 10 s; the count done and the worst wait */
__global__ void ping(struct mailbox *m, unsigned n, unsigned *done, unsigned long long *worst_ns)
{
	volatile struct mailbox *v = m;
	unsigned long long worst = 0;
	unsigned i;
	for (i = 1; i <= n; i++) {
		v->req = i;
		__threadfence();
		unsigned long long t0 = gtimer();
		while (v->ans != i)
			if (gtimer() - t0 > 10000000000ull)
				goto out;
		unsigned long long w = gtimer() - t0;
		if (w > worst)
			worst = w;
	}
out:
	*done = i - 1;
	*worst_ns = worst;
}

static void put_handle(const char *path, const void *h, size_t len)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(h, 1, len, f) != len || fclose(f) || rename(tmp, path)) {
		perror(path);
		exit(1);
	}
}

static int get_handle(const char *path, void *h, size_t len, double wait_s)
{
	double end = now_s() + wait_s;
	for (;;) {
		FILE *f = fopen(path, "rb");
		if (f) {
			size_t got = fread(h, 1, len, f);
			fclose(f);
			if (got == len)
				return 0;
		}
		if (now_s() > end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

static int server(const char *dir)
{
	char path[512];
	struct mailbox *m;
	unsigned *stop_h, *stop_d;
	unsigned long long *served;
	CK(cudaMalloc(&m, sizeof(*m)));
	CK(cudaMemset(m, 0, sizeof(*m)));
	CK(cudaHostAlloc(&stop_h, 4, cudaHostAllocMapped));
	CK(cudaHostGetDevicePointer((void **)&stop_d, stop_h, 0));
	CK(cudaMalloc(&served, 8));
	*stop_h = 0;
	cudaStream_t s;
	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	serve<<<1, 1, 0, s>>>(m, stop_d, 120ull * 1000000000ull, served);
	CK(cudaGetLastError());
	cudaIpcMemHandle_t h;
	CK(cudaIpcGetMemHandle(&h, m));
	snprintf(path, sizeof(path), "%s/server.handle", dir);
	put_handle(path, &h, sizeof(h));
	/* the client's buffer: imported and closed while serve() runs, each call bounded by alarm() */
	snprintf(path, sizeof(path), "%s/client.handle", dir);
	cudaIpcMemHandle_t ch;
	double t_open = -1, t_close = -1;
	if (get_handle(path, &ch, sizeof(ch), 60) == 0) {
		void *p = NULL;
		/* stderr unbuffered: what was reached shows even when alarm() ends the process */
		fprintf(stderr, "server: cudaIpcOpenMemHandle beside the running kernel...\n");
		alarm(20);
		double t0 = now_s();
		cudaError_t e = cudaIpcOpenMemHandle(&p, ch, cudaIpcMemLazyEnablePeerAccess);
		fprintf(stderr, "server: cudaIpcOpenMemHandle returned after %.6f s\n", now_s() - t0);
		t_open = now_s() - t0;
		if (e != cudaSuccess) {
			fprintf(stderr, "server: cudaIpcOpenMemHandle: %s\n", cudaGetErrorString(e));
		} else {
			fprintf(stderr, "server: cudaIpcCloseMemHandle beside the running kernel...\n");
			t0 = now_s();
			e = cudaIpcCloseMemHandle(p);
			t_close = now_s() - t0;
			fprintf(stderr, "server: cudaIpcCloseMemHandle returned after %.6f s\n", t_close);
			if (e != cudaSuccess)
				fprintf(stderr, "server: cudaIpcCloseMemHandle: %s\n", cudaGetErrorString(e));
		}
		alarm(0);
	}
	snprintf(path, sizeof(path), "%s/stop", dir);
	double end = now_s() + 120;
	while (access(path, F_OK) != 0 && now_s() < end)
		usleep(10000);
	__atomic_store_n(stop_h, 1u, __ATOMIC_RELEASE);
	CK(cudaStreamSynchronize(s));
	unsigned long long n = 0;
	CK(cudaMemcpy(&n, served, 8, cudaMemcpyDeviceToHost));
	printf("{\"role\":\"server\",\"served\":%llu,\"ipc_open_s\":%.6f,\"ipc_close_s\":%.6f}\n", n, t_open, t_close);
	return 0;
}

static int client(const char *dir, unsigned n)
{
	char path[512];
	cudaIpcMemHandle_t h;
	snprintf(path, sizeof(path), "%s/server.handle", dir);
	if (get_handle(path, &h, sizeof(h), 60)) {
		fprintf(stderr, "client: no server handle in %s\n", dir);
		return 1;
	}
	struct mailbox *m = NULL;
	CK(cudaIpcOpenMemHandle((void **)&m, h, cudaIpcMemLazyEnablePeerAccess));
	void *mine;
	CK(cudaMalloc(&mine, 2u << 20));
	cudaIpcMemHandle_t ch;
	CK(cudaIpcGetMemHandle(&ch, mine));
	snprintf(path, sizeof(path), "%s/client.handle", dir);
	put_handle(path, &ch, sizeof(ch));
	unsigned *done;
	unsigned long long *worst;
	CK(cudaMallocManaged(&done, 4));
	CK(cudaMallocManaged(&worst, 8));
	/* warm-up of 10, then the measured run */
	ping<<<1, 1>>>(m, 10, done, worst);
	CK(cudaDeviceSynchronize());
	unsigned base = *done;
	double t0 = now_s();
	/* ping counts from 1 again: the server answers a value that differs from its last answer */
	CK(cudaMemset(m, 0, sizeof(*m)));
	ping<<<1, 1>>>(m, n, done, worst);
	CK(cudaDeviceSynchronize());
	double secs = now_s() - t0;
	printf("{\"role\":\"client\",\"warmup_done\":%u,\"round_trips\":%u,\"seconds\":%.6f,\"us_per_round_trip\":%.3f,"
	       "\"worst_us\":%.3f}\n",
	       base, *done, secs, *done ? secs * 1e6 / *done : 0, (double)*worst / 1e3);
	snprintf(path, sizeof(path), "%s/stop", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	return *done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "server"))
		return server(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "client"))
		return client(argv[2], (unsigned)strtoul(argv[3], NULL, 0));
	fprintf(stderr, "usage: ipc-timeslice server DIR | client DIR N\n");
	return 2;
}
