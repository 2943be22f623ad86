/*
 * test-client-domain.c URI NAME: domains and their events through
 * libmodvirt, against a running daemon (tests/integration/test-cli.sh
 * starts one and runs this).
 *
 * Prints "ok - ..." / "not ok - ..." / "ok - ... # SKIP ..." lines without
 * numbers (the caller numbers them).  NAME is a domain name not in use.
 * Only libvirt's public API is used.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static int failures;

static void
check(bool cond, const char *desc)
{
    printf("%sok - %s\n", cond ? "" : "not ", desc);
    if (!cond) {
        const char *msg = virGetLastErrorMessage();

        printf("#   last error: ");
        for (const char *p = msg ? msg : "none"; *p; p++) {
            putchar(*p);
            if (*p == '\n')
                printf("#   ");
        }
        printf("\n");
        failures++;
    }
}

static void
skip(const char *desc, const char *why)
{
    printf("ok - %s # SKIP %s\n", desc, why);
}

static void
quiet_errors(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* ------------------------------------------------------------ events */

#define MAX_SEEN 64

typedef struct {
    char name[64];              /* only events of this domain are counted */
    int events[MAX_SEEN];
    int details[MAX_SEEN];
    int n;
    int freed;                  /* times the free callback ran */
} Seen;

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Seen *seen = opaque;

    (void)conn;
    if (strcmp(virDomainGetName(dom), seen->name) == 0 && seen->n < MAX_SEEN) {
        seen->events[seen->n] = event;
        seen->details[seen->n] = detail;
        seen->n++;
    }
    return 0;
}

static void
on_free(void *opaque)
{
    ((Seen *)opaque)->freed++;
}

static int
count_of(const Seen *seen, int event, int detail)
{
    int count = 0;

    for (int i = 0; i < seen->n; i++) {
        if (seen->events[i] == event && seen->details[i] == detail)
            count++;
    }
    return count;
}

static void
tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the event loop until @seen holds (event, detail) or @seconds pass;
 * then a little longer, so that a duplicate would show. */
static void
wait_for(Seen *seen, int event, int detail, double seconds)
{
    double deadline = now_s() + seconds;

    while (count_of(seen, event, detail) == 0 && now_s() < deadline)
        virEventRunDefaultImpl();
    deadline = now_s() + 0.3;
    while (now_s() < deadline)
        virEventRunDefaultImpl();
}

/* Expect exactly one (event, detail) more than before. */
static void
expect_event(Seen *seen, int event, int detail, const char *desc)
{
    int before = count_of(seen, event, detail);

    wait_for(seen, event, detail, 10);
    check(count_of(seen, event, detail) == before + 1, desc);
}

/* ------------------------------------------------------------ main */

static const char *domain_xml_fmt =
    "<domain type='kvm'>\n"
    "  <name>%s</name>\n"
    "  <memory unit='KiB'>65536</memory>\n"
    "  <vcpu>1</vcpu>\n"
    "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
    "  <features><acpi/></features>\n"
    "  <devices/>\n"
    "</domain>\n";

static void
check_typed_params(void)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int maxparams = 0;
    unsigned long long ull = 0;
    unsigned int ui = 0;
    const char *s = NULL;

    check(virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                  VIR_DOMAIN_BLOCK_COPY_BANDWIDTH, 1ULL << 40) == 0 &&
          virTypedParamsAddUInt(&params, &nparams, &maxparams,
                                VIR_DOMAIN_BLOCK_COPY_GRANULARITY, 65536) == 0 &&
          virTypedParamsAddString(&params, &nparams, &maxparams, "note", "x") == 0 &&
          nparams == 3,
          "virTypedParamsAdd* builds a parameter list");
    check(virTypedParamsGetULLong(params, nparams, "bandwidth", &ull) == 1 && ull == 1ULL << 40 &&
          virTypedParamsGetUInt(params, nparams, "granularity", &ui) == 1 && ui == 65536 &&
          virTypedParamsGetString(params, nparams, "note", &s) == 1 && strcmp(s, "x") == 0,
          "virTypedParamsGet* read back what was added");
    check(virTypedParamsGetUInt(params, nparams, "buf-size", &ui) == 0,
          "virTypedParamsGet* of an absent name answers 0");
    check(virTypedParamsGetInt(params, nparams, "bandwidth", NULL) == -1 &&
          virGetLastErrorCode() == VIR_ERR_INVALID_ARG,
          "virTypedParamsGet* of the wrong type fails with VIR_ERR_INVALID_ARG");
    check(virTypedParamsAddUInt(&params, &nparams, &maxparams, "granularity", 1) == -1 &&
          nparams == 3,
          "virTypedParamsAdd* refuses a name already set");
    virTypedParamsFree(params, nparams);
}

int
main(int argc, char **argv)
{
    virConnectPtr conn = NULL;
    virConnectPtr ro = NULL;
    virDomainPtr dom = NULL;
    virDomainPtr other = NULL;
    virDomainPtr *list = NULL;
    Seen all = { { 0 } };
    Seen filtered = { { 0 } };
    char xml[1024];
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainInfo info;
    int state = -1;
    int reason = -1;
    int autostart = -1;
    int all_id = -1;
    int filtered_id = -1;
    int n = 0;
    bool started = false;

    if (argc != 3) {
        fprintf(stderr, "usage: %s URI DOMAIN-NAME\n", argv[0]);
        return 2;
    }
    snprintf(all.name, sizeof(all.name), "%s", argv[2]);
    snprintf(filtered.name, sizeof(filtered.name), "%s", argv[2]);
    snprintf(xml, sizeof(xml), domain_xml_fmt, argv[2]);
    /* failures are checked through virGetLastError, not printed */
    virSetErrorFunc(NULL, quiet_errors);

    check_typed_params();

    if (!(conn = virConnectOpen(argv[1]))) {
        check(false, "virConnectOpen");
        return 1;
    }

    /* No event loop yet: events cannot be delivered. */
    check(virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &all,
                                           NULL) == -1 &&
          virGetLastErrorCode() == VIR_ERR_INTERNAL_ERROR,
          "registering a callback without an event loop fails");

    check(virEventRegisterDefaultImpl() == 0, "virEventRegisterDefaultImpl");
    virEventAddTimeout(100, tick, NULL, NULL);
    all_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &all,
                                              on_free);
    check(all_id >= 0, "virConnectDomainEventRegisterAny (lifecycle, all domains)");
    check(virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE + 1000,
                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &all,
                                           NULL) == -1 &&
          virGetLastErrorCode() == VIR_ERR_INVALID_ARG,
          "an unknown event ID is refused");
    check(virConnectSetKeepAlive(conn, 5, 3) == 0, "virConnectSetKeepAlive answers 0");

    /* ---- definition */
    dom = virDomainDefineXML(conn, xml);
    check(dom != NULL, "virDomainDefineXML");
    if (!dom)
        return 1;
    expect_event(&all, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED,
                 "DEFINED/ADDED delivered exactly once");

    filtered_id = virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                   &filtered, NULL);
    check(filtered_id >= 0 && filtered_id != all_id,
          "a second, domain-filtered callback gets its own ID");

    check(strcmp(virDomainGetName(dom), argv[2]) == 0, "virDomainGetName");
    check(virDomainGetID(dom) == (unsigned int)-1, "an inactive domain has no ID");
    check(virDomainGetUUIDString(dom, uuid) == 0 && strlen(uuid) == 36,
          "virDomainGetUUIDString");
    other = virDomainLookupByUUIDString(conn, uuid);
    check(other && strcmp(virDomainGetName(other), argv[2]) == 0,
          "virDomainLookupByUUIDString finds it");
    if (other)
        virDomainFree(other);
    other = virDomainLookupByName(conn, argv[2]);
    check(other != NULL, "virDomainLookupByName finds it");
    if (other)
        virDomainFree(other);
    check(virDomainLookupByName(conn, "no-such-domain-here") == NULL &&
          virGetLastErrorCode() == VIR_ERR_NO_DOMAIN,
          "virDomainLookupByName of an unknown name fails with VIR_ERR_NO_DOMAIN");
    check(virDomainGetInfo(dom, &info) == 0 && info.state == VIR_DOMAIN_SHUTOFF &&
          info.maxMem == 65536 && info.nrVirtCpu == 1,
          "virDomainGetInfo: shut off, 65536 KiB, 1 vCPU");
    check(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF,
          "virDomainGetState: shut off");
    check(virDomainIsActive(dom) == 0 && virDomainIsPersistent(dom) == 1,
          "inactive and persistent");
    {
        char *ostype = virDomainGetOSType(dom);
        char *desc = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        char name_elem[128];

        snprintf(name_elem, sizeof(name_elem), "<name>%s</name>", argv[2]);
        check(ostype && strcmp(ostype, "hvm") == 0, "virDomainGetOSType is hvm");
        check(desc && strstr(desc, name_elem) && strstr(desc, uuid),
              "virDomainGetXMLDesc has the name and UUID");
        free(ostype);
        free(desc);
    }
    check(virDomainGetMaxMemory(dom) == 65536, "virDomainGetMaxMemory");
    check(virDomainSetAutostart(dom, 1) == 0 && virDomainGetAutostart(dom, &autostart) == 0 &&
          autostart == 1, "autostart on");
    check(virDomainSetAutostart(dom, 0) == 0 && virDomainGetAutostart(dom, &autostart) == 0 &&
          autostart == 0, "autostart off");

    n = virConnectListAllDomains(conn, &list, VIR_CONNECT_LIST_DOMAINS_INACTIVE);
    {
        bool found = false;

        for (int i = 0; i < n; i++) {
            found |= strcmp(virDomainGetName(list[i]), argv[2]) == 0;
            virDomainFree(list[i]);
        }
        free(list);
        check(n >= 1 && found, "virConnectListAllDomains(INACTIVE) lists it");
    }
    n = virConnectListAllDomains(conn, NULL, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    check(n == virConnectNumOfDomains(conn), "virConnectListAllDomains(ACTIVE) counts as "
          "virConnectNumOfDomains");
    {
        char *names[256] = { 0 };
        int defined = virConnectNumOfDefinedDomains(conn);
        int got = virConnectListDefinedDomains(conn, names, 256);
        bool found = false;

        for (int i = 0; i < got; i++) {
            found |= strcmp(names[i], argv[2]) == 0;
            free(names[i]);
        }
        check(defined >= 1 && got == defined && found,
              "virConnectListDefinedDomains names it, as many as NumOfDefinedDomains");
    }

    /* read-only connections refuse changes */
    ro = virConnectOpenReadOnly(argv[1]);
    check(ro && virDomainDefineXML(ro, xml) == NULL &&
          virGetLastErrorCode() == VIR_ERR_OPERATION_DENIED,
          "a read-only connection refuses virDomainDefineXML");
    if (ro)
        virConnectClose(ro);

    /* ---- lifecycle, where the daemon starts guests */
    if (virDomainCreate(dom) == 0) {
        started = true;
        check(true, "virDomainCreate");
    } else if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
        skip("virDomainCreate", "the daemon does not start guests yet");
    } else {
        /* the checks below need a running guest: one failure, no cascade */
        check(false, "virDomainCreate (the lifecycle checks need it)");
    }
    if (started) {
        expect_event(&all, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
                     "STARTED/BOOTED delivered exactly once");
        check(virDomainGetID(dom) != (unsigned int)-1 && virDomainIsActive(dom) == 1,
              "a started domain has an ID and is active");
        check(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING &&
              reason == VIR_DOMAIN_RUNNING_BOOTED, "running (booted)");

        check(virDomainSuspend(dom) == 0, "virDomainSuspend");
        expect_event(&all, VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
                     "SUSPENDED/PAUSED delivered exactly once");
        check(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
              reason == VIR_DOMAIN_PAUSED_USER, "paused (user)");

        check(virDomainResume(dom) == 0, "virDomainResume");
        expect_event(&all, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
                     "RESUMED/UNPAUSED delivered exactly once");
        check(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING &&
              reason == VIR_DOMAIN_RUNNING_UNPAUSED, "running (unpaused)");

        check(virDomainDestroy(dom) == 0, "virDomainDestroy");
        expect_event(&all, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
                     "STOPPED/DESTROYED delivered exactly once");
        check(virDomainGetID(dom) == (unsigned int)-1, "a destroyed domain has no ID");
        check(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF &&
              reason == VIR_DOMAIN_SHUTOFF_DESTROYED, "shut off (destroyed)");
    }

    /* ---- undefinition */
    check(virDomainUndefine(dom) == 0, "virDomainUndefine");
    expect_event(&all, VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
                 "UNDEFINED/REMOVED delivered exactly once");
    check(all.n == (started ? 6 : 2), "no other event of the domain was delivered");
    for (int i = 0; all.n != (started ? 6 : 2) && i < all.n; i++)
        printf("#   event %d detail %d\n", all.events[i], all.details[i]);
    check(filtered.n == all.n - 1, "the filtered callback saw every event after it registered");
    check(virDomainGetConnect(dom) == conn, "virDomainGetConnect");
    virDomainFree(dom);

    /* ---- deregistration */
    check(virConnectDomainEventDeregisterAny(conn, all_id) == 0 && all.freed == 1,
          "virConnectDomainEventDeregisterAny runs the free callback once");
    check(virConnectDomainEventDeregisterAny(conn, all_id) == -1 &&
          virGetLastErrorCode() == VIR_ERR_INVALID_ARG,
          "deregistering twice fails with VIR_ERR_INVALID_ARG");
    n = all.n;
    dom = virDomainDefineXML(conn, xml);
    if (dom) {
        wait_for(&filtered, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, 2);
        virDomainUndefine(dom);
        wait_for(&filtered, VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED, 2);
        virDomainFree(dom);
    }
    check(all.n == n, "a deregistered callback gets no more events");
    check(virConnectDomainEventDeregisterAny(conn, filtered_id) == 0,
          "the filtered callback deregisters");
    check(virConnectIsAlive(conn) == 1 && virConnectNumOfDomains(conn) >= 0,
          "the connection still works after the events");
    check(virConnectClose(conn) == 0, "virConnectClose drops the last reference");
    return failures ? 1 : 0;
}
