/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "json-util.h"
#include "oci-manifest.h"
#include "strv.h"

void oci_descriptor_done(OciDescriptor *d) {
        free(d->media_type);
        free(d->digest);
        *d = (OciDescriptor) {};
}

void oci_manifest_done(OciManifest *m) {
        oci_descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                oci_descriptor_done(m->layers + i);
        free(m->layers);
        *m = (OciManifest) {};
}

bool oci_digest_is_valid(const char *digest) {
        const char *hex = digest ? startswith(digest, "sha256:") : NULL;

        if (!hex || strlen(hex) != 64)
                return false;
        return strspn(hex, "0123456789abcdef") == 64;
}

static int json_parse(const char *text, size_t size, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_tokener *tok;

        if (size > OCI_MANIFEST_MAX)
                return -EFBIG;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) size);
        /* one whole document and nothing after it */
        bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
                  json_tokener_get_parse_end(tok) + strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") == size;
        json_tokener_free(tok);
        if (!ok || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        *ret = TAKE_PTR(o);
        return 0;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *get_typed(json_object *o, const char *key, json_type t) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
                return NULL;
        return v;
}

int oci_document_is_index(const char *text, size_t size, const char *content_type) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *mt;

        if (json_parse(text, size, &o) < 0)
                return -EBADMSG;
        mt = get_string(o, "mediaType");
        if (!mt && content_type)
                mt = content_type;
        if (mt && (startswith(mt, OCI_MT_INDEX) || startswith(mt, DOCKER_MT_LIST)))
                return 1;
        if (mt && (startswith(mt, OCI_MT_MANIFEST) || startswith(mt, DOCKER_MT_MANIFEST)))
                return 0;
        if (get_typed(o, "manifests", json_type_array))
                return 1;
        if (get_typed(o, "layers", json_type_array))
                return 0;
        return -EBADMSG;
}

static int descriptor_from_json(json_object *o, OciDescriptor *ret) {
        json_object *size = get_typed(o, "size", json_type_int);
        const char *digest = get_string(o, "digest"), *mt = get_string(o, "mediaType");

        if (!oci_digest_is_valid(digest) || !size || json_object_get_int64(size) < 0)
                return -EBADMSG;
        *ret = (OciDescriptor) {
                .digest = strdup(digest),
                .media_type = strdup(strempty(mt)),
                .size = (uint64_t) json_object_get_int64(size),
        };
        if (!ret->digest || !ret->media_type) {
                oci_descriptor_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static bool is_attestation(json_object *entry) {
        json_object *ann = get_typed(entry, "annotations", json_type_object);
        const char *t = ann ? get_string(ann, "vnd.docker.reference.type") : NULL;

        return t && streq(t, "attestation-manifest");
}

int oci_index_select(const char *text, size_t size, const char *os, const char *arch, const char *variant,
                     OciDescriptor *ret, Diagnostics *d) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_strv_free_ char **seen = NULL;
        json_object *list, *best = NULL;
        int best_score = 0, r;

        r = json_parse(text, size, &o);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "The image index is %s.",
                                  r == -EFBIG ? "larger than 4 MiB" : "not a JSON object");
        list = get_typed(o, "manifests", json_type_array);
        if (!list)
                return diag_error(d, NULL, 0, EBADMSG, "The image index has no \"manifests\" list.");

        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i);
                json_object *p = get_typed(e, "platform", json_type_object);
                const char *eos = p ? get_string(p, "os") : NULL, *earch = p ? get_string(p, "architecture") : NULL;
                const char *evar = p ? get_string(p, "variant") : NULL;
                int score;

                if (!eos || !earch || streq(eos, "unknown") || streq(earch, "unknown") || is_attestation(e))
                        continue;
                _cleanup_free_ char *name = strjoin(eos, "/", earch, evar ? "/" : "", strempty(evar));
                if (!name)
                        return -ENOMEM;
                if (!strv_contains(seen, name) && strv_extend(&seen, name) < 0)
                        return -ENOMEM;
                if (!streq(eos, os) || !streq(earch, arch))
                        continue;
                /* an exact variant wins; arm64's v8 is the same as none */
                if (variant && evar && streq(variant, evar))
                        score = 3;
                else if (variant && !evar && streq(arch, "arm64") && streq(variant, "v8"))
                        score = 3;
                else if (!variant && (!evar || (streq(arch, "arm64") && streq(evar, "v8"))))
                        score = 2;
                else if (!variant)
                        score = 1;
                else
                        continue;
                if (score > best_score) {
                        best = e;
                        best_score = score;
                }
        }
        if (!best) {
                _cleanup_free_ char *all = strv_join(seen, ", ");
                return diag_error(d, NULL, 0, ENOENT, "The image has no %s/%s%s%s platform (it has: %s).", os, arch,
                                  variant ? "/" : "", strempty(variant), isempty(all) ? "none" : all);
        }
        r = descriptor_from_json(best, ret);
        if (r == -EBADMSG)
                return diag_error(d, NULL, 0, EBADMSG, "The image index entry for %s/%s has no valid digest and size.",
                                  os, arch);
        return r;
}

bool oci_layer_media_type_is_supported(const char *mt) {
        static const char *const ok[] = {
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.diff.tar",
                "application/vnd.docker.image.rootfs.diff.tar.zstd",
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (streq(mt, ok[i]))
                        return true;
        return false;
}

int oci_manifest_parse(const char *text, size_t size, OciManifest *ret, Diagnostics *d) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(oci_manifest_done) OciManifest m = {};
        json_object *config, *layers;
        int r;

        r = json_parse(text, size, &o);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "The image manifest is %s.",
                                  r == -EFBIG ? "larger than 4 MiB" : "not a JSON object");
        config = get_typed(o, "config", json_type_object);
        layers = get_typed(o, "layers", json_type_array);
        if (!config || !layers)
                return diag_error(d, NULL, 0, EBADMSG, "The image manifest has no config or no layers.");
        r = descriptor_from_json(config, &m.config);
        if (r < 0)
                return r == -ENOMEM ? r : diag_error(d, NULL, 0, EBADMSG, "The image manifest's config has no valid "
                                                     "digest and size.");
        if (m.config.size > OCI_MANIFEST_MAX)
                return diag_error(d, NULL, 0, EFBIG, "The image config is larger than 4 MiB.");
        m.n_layers = json_object_array_length(layers);
        if (m.n_layers == 0)
                return diag_error(d, NULL, 0, EBADMSG, "The image manifest has no layers.");
        m.layers = calloc(m.n_layers, sizeof(OciDescriptor));
        if (!m.layers)
                return -ENOMEM;
        for (size_t i = 0; i < m.n_layers; i++) {
                r = descriptor_from_json(json_object_array_get_idx(layers, i), m.layers + i);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return diag_error(d, NULL, 0, EBADMSG, "Layer %zu of the image manifest has no valid digest "
                                          "and size.", i + 1);
                if (!oci_layer_media_type_is_supported(m.layers[i].media_type))
                        return diag_error(d, NULL, 0, EOPNOTSUPP, "Layer %zu is of type '%s', which is not a tar "
                                          "(plain, gzip or zstd) layer.", i + 1, m.layers[i].media_type);
        }
        *ret = m;
        m = (OciManifest) {};
        return 0;
}

static int string_array(json_object *a, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                int r = strv_extend(&l, json_object_get_string(v));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int oci_config_parse(const char *text, size_t size, OciExec *ret, Diagnostics *d) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(oci_exec_done) OciExec e = {};
        _cleanup_strv_free_ char **cmd = NULL;
        json_object *c;
        const char *s;
        int r;

        r = json_parse(text, size, &o);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "The image config is %s.",
                                  r == -EFBIG ? "larger than 4 MiB" : "not a JSON object");
        c = get_typed(o, "config", json_type_object); /* absent: nothing to say */
        r = string_array(get_typed(c, "Env", json_type_array), &e.environment);
        if (r >= 0)
                r = string_array(get_typed(c, "Entrypoint", json_type_array), &e.argv);
        if (r >= 0)
                r = string_array(get_typed(c, "Cmd", json_type_array), &cmd);
        if (r >= 0)
                r = strv_extend_strv(&e.argv, cmd);
        if (r == -EBADMSG)
                return diag_error(d, NULL, 0, EBADMSG, "The image config's Env, Entrypoint or Cmd is not a list of "
                                  "strings.");
        if (r < 0)
                return r;
        if ((s = c ? get_string(c, "WorkingDir") : NULL) && !isempty(s) && !(e.working_directory = strdup(s)))
                return -ENOMEM;
        /* "USER[:GROUP]": systemd-nspawn's User= takes the user (name or UID) and uses its groups */
        if ((s = c ? get_string(c, "User") : NULL) && !isempty(s) && s[0] != ':' &&
            !(e.user = strndup(s, strcspn(s, ":"))))
                return -ENOMEM;
        *ret = e;
        e = (OciExec) {};
        return 0;
}
