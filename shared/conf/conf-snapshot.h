/*
 * conf-snapshot.h: domain snapshot definitions (libvirt's <domainsnapshot>
 * XML), as clients send them to virDomainSnapshotCreateXML and as
 * virDomainSnapshotGetXMLDesc and the daemon's metadata files show them.
 *
 * Element names, defaults, order and error codes follow libvirt 9
 * (docs/formatsnapshot.rst, `virsh snapshot-dumpxml`):
 *
 *   <domainsnapshot>
 *     <name>s1</name>                       absent: the creation time
 *     <description>...</description>
 *     <state>disk-snapshot</state>          output / REDEFINE
 *     <parent><name>s0</name></parent>      output / REDEFINE
 *     <creationTime>1690000000</creationTime>  output / REDEFINE
 *     <memory snapshot='no'/>
 *     <disks>
 *       <disk name='vda' snapshot='external' type='file'>
 *         <driver type='qcow2'/>
 *         <source file='/abs/vda.s1'/>
 *       </disk>
 *       <disk name='vdb' snapshot='no'/>
 *     </disks>
 *     <domain ...>...</domain>              the domain when it was taken
 *     <inactiveDomain ...>...</inactiveDomain>  its persistent definition
 *   </domainsnapshot>
 *
 * The errors are those libvirt reports for the same input (VIR_FROM_DOMAIN_SNAPSHOT):
 * malformed XML VIR_ERR_XML_DETAIL "(domain_snapshot):LINE: ...", a wrong
 * root element or bad value VIR_ERR_XML_ERROR, an unknown driver type
 * VIR_ERR_CONFIG_UNSUPPORTED.  Like the domain parser, and unlike
 * libvirt, an element or attribute outside the format is refused
 * (VIR_ERR_CONFIG_UNSUPPORTED naming it) instead of being ignored.
 * The schema for the format is shared/conf/schemas/domainsnapshot.rng.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"

/* virDomainSnapshotLocation; the strings are libvirt's */
typedef enum {
    CONF_SNAPSHOT_LOCATION_DEFAULT,     /* not given */
    CONF_SNAPSHOT_LOCATION_NO,
    CONF_SNAPSHOT_LOCATION_INTERNAL,
    CONF_SNAPSHOT_LOCATION_EXTERNAL,
    CONF_SNAPSHOT_LOCATION_MANUAL,

    CONF_SNAPSHOT_LOCATION_LAST
} ConfSnapshotLocation;

/* virDomainSnapshotState: virDomainState plus disk-snapshot */
typedef enum {
    CONF_SNAPSHOT_STATE_NOSTATE,
    CONF_SNAPSHOT_STATE_RUNNING,
    CONF_SNAPSHOT_STATE_BLOCKED,
    CONF_SNAPSHOT_STATE_PAUSED,
    CONF_SNAPSHOT_STATE_SHUTDOWN,
    CONF_SNAPSHOT_STATE_SHUTOFF,
    CONF_SNAPSHOT_STATE_CRASHED,
    CONF_SNAPSHOT_STATE_PMSUSPENDED,
    CONF_SNAPSHOT_STATE_DISK_SNAPSHOT,

    CONF_SNAPSHOT_STATE_LAST
} ConfSnapshotState;

typedef struct {
    char *name;                     /* target ("vda") or, as given, a source path */
    ConfSnapshotLocation snapshot;
    ConfStorageType type;           /* FILE or BLOCK */
    char *path;                     /* the new image; NULL: not given */
    char *driver_type;              /* <driver type>, a libvirt format name; NULL: not given */
} ConfSnapshotDiskDef;

typedef struct _ConfSnapshotDef ConfSnapshotDef;
struct _ConfSnapshotDef {
    char *name;
    char *description;
    ConfSnapshotState state;        /* NOSTATE: not known yet */
    char *parent_name;
    gint64 creation_time;           /* seconds since the epoch, 0: not known */
    ConfSnapshotLocation memory;
    char *memory_file;
    GPtrArray *disks;               /* ConfSnapshotDiskDef *, never NULL */
    ConfDomainDef *dom;             /* the domain when taken, may be NULL */
    ConfDomainDef *inactive_dom;    /* its persistent definition, may be NULL */
};

typedef enum {
    /* a snapshot being redefined (or read back): state, creationTime,
     * parent and the domain count; state and creationTime are required */
    CONF_SNAPSHOT_PARSE_REDEFINE = 1 << 0,
    /* the snapshot is disk-only or of a shut-off domain: no memory state */
    CONF_SNAPSHOT_PARSE_OFFLINE = 1 << 1,
    /* validate against schemas/domainsnapshot.rng first */
    CONF_SNAPSHOT_PARSE_VALIDATE = 1 << 2,
    /* the daemon's own metadata file: REDEFINE, plus <active> */
    CONF_SNAPSHOT_PARSE_INTERNAL = 1 << 3,
} ConfSnapshotParseFlags;

typedef enum {
    CONF_SNAPSHOT_FORMAT_SECURE = 1 << 0,   /* passwords of the domain */
    CONF_SNAPSHOT_FORMAT_INTERNAL = 1 << 1, /* add <active>0|1</active> */
    CONF_SNAPSHOT_FORMAT_CURRENT = 1 << 2,  /* with INTERNAL: <active>1</active> */
} ConfSnapshotFormatFlags;

/* Parses a snapshot definition.  Without REDEFINE (a new snapshot), the
 * state, parent, creation time and domain given are ignored, the creation
 * time is now and a missing name becomes that time in seconds, as libvirt
 * does.  *@ret_current (may be NULL) is the <active> value with INTERNAL. */
ConfSnapshotDef *conf_snapshot_parse(const char *xml, unsigned int flags,
                                     bool *ret_current, GError **error);

/* The document as `virsh snapshot-dumpxml` shows it.  When @def has no
 * domain, a <domain><uuid>@domain_uuid</uuid></domain> stands for it
 * (@domain_uuid may be NULL: nothing). */
char *conf_snapshot_format(const ConfSnapshotDef *def, const unsigned char *domain_uuid,
                           unsigned int flags);

/* Makes @def's disks match @domdef's, in its order, as libvirt's
 * virDomainSnapshotAlignDisks does: disks named by path become targets, a
 * disk named twice or not in the domain is VIR_ERR_CONFIG_UNSUPPORTED,
 * disks not mentioned get @default_location (NO for empty and read-only
 * drives, where libvirt would also try the default), a
 * source on a non-external disk is refused, and external file disks
 * without a source get libvirt's default name: the domain disk's path with
 * its suffix after the last '.' replaced by ".<snapshot name>". */
bool conf_snapshot_align_disks(ConfSnapshotDef *def, const ConfDomainDef *domdef,
                               ConfSnapshotLocation default_location, GError **error);

/* True when the memory or any disk is saved externally. */
bool conf_snapshot_is_external(const ConfSnapshotDef *def);

ConfSnapshotDef *conf_snapshot_def_new(void);
void conf_snapshot_def_free(ConfSnapshotDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfSnapshotDef, conf_snapshot_def_free)

const char *conf_snapshot_state_to_string(ConfSnapshotState state);
const char *conf_snapshot_location_to_string(ConfSnapshotLocation location);

/* The schema in use: domainsnapshot.rng beside conf_domain_schema_path(). */
char *conf_snapshot_schema_path(void);
