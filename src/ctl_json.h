/* ctl_json.h - reading btblockd's replies in btblockctl: a member or a
 * default, whatever an older or newer daemon sent. */
#ifndef BTBLOCKD_CTL_JSON_H
#define BTBLOCKD_CTL_JSON_H

#include <jansson.h>

/* An integer member, 0 when absent or not a number (old or new daemons). */
static inline json_int_t jint(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (json_int_t)json_real_value(v);
	return 0;
}

static inline json_int_t jint2(const json_t *obj, const char *key, const char *sub)
{
	return jint(json_object_get(obj, key), sub);
}

static inline const char *jstr(const json_t *obj, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

#endif
