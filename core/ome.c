#include "ome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Value of attribute `name` in the element starting at tag (up to its '>'),
 * unescaped into out; 0 when absent. */
static int attr(const char *tag, const char *name, char *out, size_t cap) {
  const char *end = strchr(tag, '>');
  size_t n = strlen(name);
  for (const char *p = tag; end && (p = strstr(p, name)) && p < end; p += n) {
    if ((p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r') || p[n] != '=' ||
        (p[n + 1] != '"' && p[n + 1] != '\''))
      continue;
    char q = p[n + 1];
    const char *v = p + n + 2;
    size_t k = 0;
    static const char *const ent[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
                                         {"&quot;", "\""}, {"&apos;", "'"}};
    while (*v && *v != q && k + 1 < cap) {
      int hit = 0;
      for (int e = 0; e < 5 && !hit; e++)
        if (!strncmp(v, ent[e][0], strlen(ent[e][0]))) {
          out[k++] = ent[e][1][0];
          v += strlen(ent[e][0]);
          hit = 1;
        }
      if (!hit) out[k++] = *v++;
    }
    out[k] = 0;
    return 1;
  }
  return 0;
}

static int attr_int(const char *tag, const char *name, int dflt) {
  char v[32];
  return attr(tag, name, v, sizeof v) ? atoi(v) : dflt;
}

int sscor_ome_parse(const char *xml, sscor_ome_info *out) {
  memset(out, 0, sizeof *out);
  if (!xml || !strstr(xml, "<OME")) return 0;
  const char *px = strstr(xml, "<Pixels ");
  if (!px) return 0;
  out->size_c = attr_int(px, "SizeC", 1);
  out->size_z = attr_int(px, "SizeZ", 1);
  out->size_t = attr_int(px, "SizeT", 1);
  const char *close = strstr(px, "</Pixels>");
  size_t k = 0;
  int named = 0;
  for (const char *c = strstr(px, "<Channel "); c && (!close || c < close); c = strstr(c + 1, "<Channel ")) {
    char name[256] = "";
    named |= attr(c, "Name", name, sizeof name) && name[0];
    for (char *p = name; *p; p++)
      if (*p == ',') *p = ';'; /* the list is comma-separated */
    int n = snprintf(out->names + k, sizeof out->names - k, "%s%s", k ? "," : "", name);
    if (n < 0 || (size_t)n >= sizeof out->names - k) break;
    k += (size_t)n;
  }
  if (!named) out->names[0] = 0;
  return 1;
}

/* Appends s to the string builder with XML escaping. */
static void put_escaped(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
  for (size_t i = 0; i < n && *buf; i++) {
    const char *r = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : s[i] == '"' ? "&quot;" : NULL;
    size_t m = r ? strlen(r) : 1;
    if (*len + m + 1 > *cap) {
      char *b = realloc(*buf, *cap * 2 + m);
      if (!b) {
        free(*buf);
        *buf = NULL;
        return;
      }
      *buf = b, *cap = *cap * 2 + m;
    }
    memcpy(*buf + *len, r ? r : s + i, m);
    *len += m;
    (*buf)[*len] = 0;
  }
}

static void put(char **buf, size_t *len, size_t *cap, const char *s) {
  while (*buf && *s) { /* copy verbatim: markup */
    if (*len + 2 > *cap) {
      char *b = realloc(*buf, *cap * 2);
      if (!b) {
        free(*buf);
        *buf = NULL;
        return;
      }
      *buf = b, *cap *= 2;
    }
    (*buf)[(*len)++] = *s++;
    (*buf)[*len] = 0;
  }
}

char *sscor_ome_xml(int width, int height, int channels, sscor_sample_type type, const char *names,
                    double mpp_x, double mpp_y) {
  size_t cap = 1024, len = 0;
  char *b = calloc(1, cap), tmp[512];
  const char *ty = type == SSCOR_U8 ? "uint8" : type == SSCOR_U16 ? "uint16" : "float";
  put(&b, &len, &cap,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\" "
      "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.openmicroscopy.org/"
      "Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd\" Creator=\"sscor\">"
      "<Image ID=\"Image:0\" Name=\"Image0\">");
  snprintf(tmp, sizeof tmp,
           "<Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"%s\" SizeX=\"%d\" SizeY=\"%d\" SizeC=\"%d\" "
           "SizeZ=\"1\" SizeT=\"1\"",
           ty, width, height, channels);
  put(&b, &len, &cap, tmp);
  if (mpp_x > 0 && mpp_y > 0) {
    snprintf(tmp, sizeof tmp,
             " PhysicalSizeX=\"%.9g\" PhysicalSizeXUnit=\"\xC2\xB5m\" PhysicalSizeY=\"%.9g\" "
             "PhysicalSizeYUnit=\"\xC2\xB5m\"",
             mpp_x, mpp_y);
    put(&b, &len, &cap, tmp);
  }
  put(&b, &len, &cap, ">");
  const char *n = names && *names ? names : NULL;
  for (int c = 0; c < channels; c++) {
    snprintf(tmp, sizeof tmp, "<Channel ID=\"Channel:0:%d\" SamplesPerPixel=\"1\"", c);
    put(&b, &len, &cap, tmp);
    if (n) {
      const char *e = strchr(n, ',');
      size_t l = e ? (size_t)(e - n) : strlen(n);
      if (l) {
        put(&b, &len, &cap, " Name=\"");
        put_escaped(&b, &len, &cap, n, l);
        put(&b, &len, &cap, "\"");
      }
      n = e ? e + 1 : NULL;
    }
    put(&b, &len, &cap, "/>");
  }
  snprintf(tmp, sizeof tmp, "<TiffData IFD=\"0\" PlaneCount=\"%d\"/></Pixels></Image></OME>", channels);
  put(&b, &len, &cap, tmp);
  return b;
}
