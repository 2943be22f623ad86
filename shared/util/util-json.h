/*
 * util-json.h: automatic cleanup for json-c objects (STYLE.md section 4).
 * Header only: include it where json-c is used; shared/util itself does
 * not link json-c.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
