/*
 * contrib/gen-records.c - a deterministic generator of cloud audit records for benchmarks.
 *
 *   gen-records N [SEED] > out.jsonl
 *
 * Writes N JSON lines of 150-400 bytes each: time (RFC 3339 UTC, milliseconds, starting at
 * 2026-11-17T00:00:00Z and advancing 86.4 ms per record, so 1M records span one day), tenant,
 * actor, source_ip, action, resource, result (+ error_code on failure), request_id (UUIDv4),
 * user_agent, layer and party (facility events have no source_ip or user_agent; a record that
 * would exceed 400 bytes gets a shorter user_agent or none). Tenants and actors are Zipf-skewed
 * (weight 1/rank); about 300 tenants with 32 actors each. Only integer arithmetic is used, so the same N and SEED give
 * byte-identical output on every machine. SEED defaults to 42.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTENANTS 300
#define NACTORS 32 /* per tenant */
#define LINE_MIN 150
#define LINE_MAX 400

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* uniform in [0, n) */
static uint32_t
below(uint32_t n)
{
    return (uint32_t)(((unsigned __int128)rnd() * n) >> 64);
}

/* a fixed hash of a value, independent of the stream (for stable per-tenant/actor traits) */
static uint64_t
mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Zipf-like (weight 1/rank) sampling over n ranks with integer weights. */
typedef struct zipf {
    uint32_t n;
    uint64_t *cum;
} zipf;

static void
zipf_init(zipf *z, uint32_t n)
{
    z->n = n;
    z->cum = malloc(n * sizeof *z->cum);
    if (!z->cum) {
        perror("gen-records");
        exit(1);
    }
    uint64_t acc = 0;
    for (uint32_t k = 0; k < n; k++) {
        acc += (UINT64_C(1) << 32) / (k + 1);
        z->cum[k] = acc;
    }
}

static uint32_t
zipf_draw(const zipf *z)
{
    uint64_t total = z->cum[z->n - 1];
    uint64_t r = (uint64_t)(((unsigned __int128)rnd() * total) >> 64);
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cum[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const syl[] = {"ac", "me", "lo", "gis", "ta", "ri", "no", "va", "zen", "kor",
                                  "pan", "xi", "hua", "tek", "sol", "mar", "den", "qi", "lin",
                                  "fu", "bo", "ra", "ton", "yun"};
static const char *const suffix[] = {"logistics", "bank", "retail", "health", "games", "media",
                                     "energy", "edu", "labs", "gov", "air", "motors"};
static const char *const given[] = {"wei", "li", "fang", "min", "jing", "lei", "yan", "tao",
                                    "anna", "omar", "lucas", "sara", "ken", "yuki", "ravi",
                                    "ines", "chen", "hao", "mei", "jun"};
static const char *const roles[] = {"ops-admin", "ci-deployer", "backup-runner", "etl-job",
                                    "readonly-audit", "k8s-node", "billing-sync", "sec-scanner"};
static const char *const regions[] = {"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen",
                                      "ap-southeast-1", "eu-central-1", "us-west-1"};
static const char *const errors[] = {"Forbidden.RAM", "InvalidParameter", "Throttling.User",
                                     "IncorrectInstanceStatus", "NoSuchKey", "AccessDenied",
                                     "QuotaExceeded", "InternalError",
                                     "InvalidAccessKeyId", "OperationConflict"};
static const char *const layers[] = {"facility", "hardware", "virtualization", "platform",
                                     "application", "data"};
enum { L_FACILITY, L_HARDWARE, L_VIRT, L_PLATFORM, L_APP, L_DATA };

typedef struct action {
    const char *name;
    const char *rtype; /* resource type in the resource id */
    int layer;
    unsigned weight;   /* relative frequency */
    unsigned fail_pm;  /* failures per mille */
} action;

static const action actions[] = {
    {"dc:BadgeAccess", "door", L_FACILITY, 6, 15},
    {"dc:PowerTransfer", "pdu", L_FACILITY, 1, 5},
    {"dc:CoolingAlarm", "crac", L_FACILITY, 1, 0},
    {"hw:ReplaceDisk", "host", L_HARDWARE, 2, 20},
    {"hw:UpdateFirmware", "host", L_HARDWARE, 1, 30},
    {"hw:RebootHost", "host", L_HARDWARE, 2, 10},
    {"ecs:StartInstance", "instance", L_VIRT, 20, 30},
    {"ecs:StopInstance", "instance", L_VIRT, 18, 25},
    {"ecs:RebootInstance", "instance", L_VIRT, 8, 20},
    {"ecs:MigrateInstance", "instance", L_VIRT, 3, 40},
    {"ecs:DescribeInstances", "instance", L_VIRT, 60, 5},
    {"ebs:CreateSnapshot", "disk", L_VIRT, 10, 15},
    {"vpc:AuthorizeSecurityGroup", "securitygroup", L_VIRT, 6, 40},
    {"rds:ModifyDBInstance", "dbinstance", L_PLATFORM, 6, 50},
    {"rds:CreateBackup", "dbinstance", L_PLATFORM, 10, 10},
    {"rds:DescribeDBInstances", "dbinstance", L_PLATFORM, 30, 5},
    {"ack:ScaleCluster", "cluster", L_PLATFORM, 4, 60},
    {"slb:SetListenerAttribute", "loadbalancer", L_PLATFORM, 3, 30},
    {"fc:InvokeFunction", "function", L_APP, 40, 30},
    {"apigw:InvokeApi", "api", L_APP, 40, 40},
    {"ram:CreateAccessKey", "user", L_APP, 2, 60},
    {"ram:AttachPolicyToUser", "user", L_APP, 2, 80},
    {"sts:AssumeRole", "role", L_APP, 25, 20},
    {"oss:GetObject", "bucket", L_DATA, 140, 25},
    {"oss:PutObject", "bucket", L_DATA, 60, 15},
    {"oss:DeleteObject", "bucket", L_DATA, 8, 30},
    {"kms:Decrypt", "key", L_DATA, 70, 10},
    {"kms:Encrypt", "key", L_DATA, 20, 10},
    {"kms:GenerateDataKey", "key", L_DATA, 15, 10},
};

static const char *const ua_customer[] = {
    "aliyun-cli/3.0.204",
    "console.aliyun.com",
    "ossutil/1.7.19",
    "python-requests/2.32.3",
    "aliyun-sdk-go/1.63.0",
    "aliyun-sdk-java/4.6.4",
    "Terraform/1.9.5 alicloud/1.230.0",
    "Mozilla/5.0 Firefox/131.0",
};
static const char *const ua_provider[] = {"internal:dcim/4.2", "internal:ops-agent/2.4.1",
                                          "internal:fleet-ctl/7.0"};
static const char *const ua_vendor[] = {"secvendor-cwpp-agent/5.3.2", "secvendor-cspm/2.11"};

/* appends to a fixed line buffer; the generator never comes near its size */
typedef struct out {
    char buf[1024];
    size_t n;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof o->buf - o->n) {
        fprintf(stderr, "gen-records: line buffer overflow\n");
        exit(1);
    }
    o->n += (size_t)k;
}

static void
tenant_name(char *dst, size_t cap, uint32_t t)
{
    uint64_t h = mix(t + 1000);
    snprintf(dst, cap, "%s%s-%s", syl[h % COUNT(syl)], syl[(h >> 8) % COUNT(syl)],
             suffix[(h >> 16) % COUNT(suffix)]);
    /* disambiguate collisions by rank */
    size_t n = strlen(dst);
    if (t >= 100)
        snprintf(dst + n, cap - n, "%" PRIu32, t / 100);
}

static uint64_t
tenant_account(uint32_t t)
{
    return 100000000000u + mix(t + 7777) % 900000000000u;
}

/* days in month (1-based) of year y */
static int
mdays(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static void
put_time(out *o, uint64_t us)
{
    uint64_t secs = us / 1000000, frac = us % 1000000 / 1000;
    uint64_t days = secs / 86400, sod = secs % 86400;
    int y = 2026, m = 11, d = 17;
    while (days > 0) {
        int left = mdays(y, m) - d; /* days until the month's last day */
        if (days <= (uint64_t)left) {
            d += (int)days;
            days = 0;
        } else {
            days -= (uint64_t)left + 1;
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    put(o, "\"time\":\"%04d-%02d-%02dT%02u:%02u:%02u.%03uZ\"", y, m, d, (unsigned)(sod / 3600),
        (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned)frac);
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: gen-records N [SEED] > out.jsonl\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(argv[1], &end, 10);
    if (errno || *end || argv[1][0] == '-') {
        fprintf(stderr, "gen-records: N must be a non-negative integer\n");
        return 2;
    }
    unsigned long long seed = 42;
    if (argc == 3) {
        seed = strtoull(argv[2], &end, 10);
        if (errno || *end || argv[2][0] == '-') {
            fprintf(stderr, "gen-records: SEED must be a non-negative integer\n");
            return 2;
        }
    }
    rng_state = seed;

    zipf tz, az;
    zipf_init(&tz, NTENANTS);
    zipf_init(&az, NACTORS);
    unsigned wsum = 0;
    for (size_t i = 0; i < COUNT(actions); i++)
        wsum += actions[i].weight;

    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

    for (unsigned long long i = 0; i < n; i++) {
        out o = {.n = 0};
        /* 86.4 ms per record, jittered within the slot so time stays monotonic */
        uint64_t us = (uint64_t)i * 86400u + below(86400);

        /* action */
        unsigned w = below(wsum);
        const action *a = actions;
        while (w >= a->weight) {
            w -= a->weight;
            a++;
        }

        uint32_t t = zipf_draw(&tz);
        char tenant[64];
        tenant_name(tenant, sizeof tenant, t);
        uint64_t acct = tenant_account(t);
        uint64_t th = mix(t);
        const char *region = regions[th % COUNT(regions)];
        if (below(10) == 0)
            region = regions[below(COUNT(regions))];

        /* party and actor */
        int party; /* 0 provider, 1 customer, 2 security-vendor */
        if (a->layer <= L_HARDWARE)
            party = 0;
        else if (a->layer == L_VIRT)
            party = below(10) == 0 ? 0 : below(25) == 0 ? 2 : 1;
        else
            party = below(40) == 0 ? 2 : below(50) == 0 ? 0 : 1;
        static const char *const parties[] = {"provider", "customer", "security-vendor"};

        char actor[96], ip[40];
        const char *ua;
        if (party == 0) {
            uint32_t tech = below(60);
            snprintf(actor, sizeof actor, "provider:ops/%s.%s%02u", given[tech % COUNT(given)],
                     given[(tech / 3) % COUNT(given)], (unsigned)tech);
            snprintf(ip, sizeof ip, "10.%u.%u.%u", 16 + (unsigned)(tech % 8), below(256),
                     1 + below(254));
            ua = ua_provider[a->layer == L_FACILITY ? 0 : 1 + below(2)];
        } else if (party == 2) {
            snprintf(actor, sizeof actor, "vendor:role/secvendor-agent");
            snprintf(ip, sizeof ip, "100.64.%u.%u", (unsigned)(th >> 20) % 256, 1 + below(254));
            ua = ua_vendor[below(2)];
        } else {
            uint32_t k = zipf_draw(&az);
            uint64_t ah = mix(((uint64_t)t << 8) | k);
            if (k % 4 == 3)
                snprintf(actor, sizeof actor, "ram:role/%s", roles[ah % COUNT(roles)]);
            else
                snprintf(actor, sizeof actor, "ram:user/%s.%s%u", given[ah % COUNT(given)], given[(ah >> 8) % COUNT(given)],
                         (unsigned)(ah >> 16) % 100);
            /* each actor mostly works from its home address */
            if (below(5) != 0)
                snprintf(ip, sizeof ip, "%u.%u.%u.%u", 11 + (unsigned)(ah >> 24) % 200,
                         (unsigned)(ah >> 32) % 256, (unsigned)(ah >> 40) % 256,
                         1 + (unsigned)(ah >> 48) % 254);
            else
                snprintf(ip, sizeof ip, "%u.%u.%u.%u", 11 + below(200), below(256), below(256),
                         1 + below(254));
            ua = ua_customer[(ah >> 56) % COUNT(ua_customer)];
            if (below(4) == 0)
                ua = ua_customer[below(COUNT(ua_customer))];
        }

        /* resource: acs:SVC:REGION:ACCOUNT:TYPE/ID */
        char svc[16];
        size_t sl = (size_t)(strchr(a->name, ':') - a->name);
        memcpy(svc, a->name, sl);
        svc[sl] = '\0';
        uint64_t rid = rnd();
        char res[160];
        if (a->layer <= L_HARDWARE)
            snprintf(res, sizeof res, "acs:%s:%s:provider:%s/%s-dc%u-r%02u-%03u", svc, region,
                     a->rtype, a->layer == L_FACILITY ? "dc" : "host", (unsigned)(rid % 4),
                     (unsigned)(rid >> 8) % 40, (unsigned)(rid >> 16) % 1000);
        else if (a->layer == L_DATA && strcmp(svc, "oss") == 0)
            snprintf(res, sizeof res, "acs:oss:%s:%" PRIu64 ":bucket/%.*s-%s/%08" PRIx64, region,
                     acct, (int)strcspn(tenant, "-"), tenant,
                     (rid >> 4) % 3 == 0 ? "logs" : "assets", (rid >> 8) & 0xffffffffu);
        else
            snprintf(res, sizeof res, "acs:%s:%s:%" PRIu64 ":%s/%.2s-%08" PRIx64, svc, region,
                     acct, a->rtype, a->rtype, (rid >> 8) & 0xffffffffu);

        int fail = below(1000) < a->fail_pm;
        uint64_t u1 = rnd(), u2 = rnd();

        o.buf[o.n++] = '{';
        put_time(&o, us);
        put(&o, ",\"tenant\":\"%s\",\"actor\":\"%s\"", tenant, actor);
        /* physical facility events (door readers, PDUs) have no network source or agent */
        if (a->layer != L_FACILITY)
            put(&o, ",\"source_ip\":\"%s\"", ip);
        put(&o, ",\"action\":\"%s\",\"resource\":\"%s\",\"result\":\"%s\"", a->name, res,
            fail ? "failure" : "success");
        if (fail)
            put(&o, ",\"error_code\":\"%s\"", errors[below(COUNT(errors))]);
        put(&o,
            ",\"request_id\":\"%08x-%04x-4%03x-%04x-%012" PRIx64 "\"",
            (unsigned)(u1 >> 32), (unsigned)(u1 >> 16) & 0xffff, (unsigned)u1 & 0xfff,
            0x8000 | ((unsigned)(u2 >> 48) & 0x3fff), u2 & UINT64_C(0xffffffffffff));
        /* keep every line within LINE_MAX: a shorter agent string, or none, if needed */
        size_t tail = strlen(",\"user_agent\":\"\",\"layer\":\"\",\"party\":\"\"}\n") +
                      strlen(layers[a->layer]) + strlen(parties[party]);
        if (a->layer == L_FACILITY)
            ua = NULL;
        else if (o.n + tail + strlen(ua) > LINE_MAX)
            ua = "ossutil/1.7.19";
        if (ua && o.n + tail + strlen(ua) <= LINE_MAX)
            put(&o, ",\"user_agent\":\"%s\"", ua);
        put(&o, ",\"layer\":\"%s\",\"party\":\"%s\"}\n", layers[a->layer], parties[party]);
        if (o.n > LINE_MAX) {
            /* rare (about 1 in 9 million): long actor, error code and resource together even
             * without a user agent. Draw this record again; records before it are unchanged. */
            i--;
            continue;
        }
        if (o.n < LINE_MIN) {
            fprintf(stderr, "gen-records: record %llu is %zu bytes\n", i, o.n);
            return 1;
        }
        if (fwrite(o.buf, 1, o.n, stdout) != o.n) {
            perror("gen-records");
            return 1;
        }
    }
    if (fflush(stdout) != 0) {
        perror("gen-records");
        return 1;
    }
    free(tz.cum);
    free(az.cum);
    return 0;
}
