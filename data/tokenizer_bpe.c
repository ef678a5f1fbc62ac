/* tokenizer_bpe: one pre-token's bytes into ids.
 *
 * The merges are applied as the tokenizers package applies them (its
 * Word::merge_all), so that the ids are its ids even for a merge list
 * where the order of merges matters beyond their ranks: every adjacent
 * pair that has a merge goes into a min-heap by (rank, position); the
 * smallest comes out; it is skipped when its left symbol was merged
 * away, has no right neighbour any more, or the pair there now merges
 * into another id; otherwise the two become the merged token, and the
 * pairs it now makes with its neighbours go in. The symbols are a linked
 * list over arrays that grow to the longest pre-token seen, never freed
 * between pre-tokens, so encoding allocates nothing once warm.
 *
 * Most pre-tokens are words that come back again and again, so their ids
 * are cached by their bytes (tokenizer_impl.h, tok_cache): a hit costs a
 * hash and a compare instead of the merges. */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"
#include "util/err.h"

enum {
    CACHE_SLOTS = 1 << 17,     /* at most half of them used */
    CACHE_KEY_BYTES = 1 << 20, /* the pre-tokens' bytes */
    CACHE_IDS = 1 << 18,       /* and their ids */
};

uint64_t tok_hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

void tok_byte_alphabet(uint16_t byte_cp[256], int16_t cp_byte[512])
{
    /* GPT-2's: a printable byte stands for itself, the others (controls,
     * space, DEL, NBSP, soft hyphen) take the code points from 256 up in
     * the order of their values, so every byte is a visible character */
    for (int i = 0; i < 512; i++)
        cp_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        byte_cp[b] = (uint16_t)(self ? b : 256 + n++);
        cp_byte[byte_cp[b]] = (int16_t)b;
    }
}

int tok_merges_init(tok_merges *m, size_t n)
{
    size_t slots = 16;
    int bits = 4;
    while (slots < 2 * n) {
        slots *= 2;
        bits++;
    }
    if (!(m->slots = malloc(sizeof *m->slots * slots)))
        return err_set("out of memory for a table of %zu merges", n);
    for (size_t i = 0; i < slots; i++)
        m->slots[i].key = TOK_FREE_PAIR;
    m->mask = slots - 1;
    m->shift = 64 - bits;
    return 0;
}

void tok_merges_free(tok_merges *m)
{
    free(m->slots);
    m->slots = NULL;
}

static inline uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

/* Where key's search starts: the multiplicative hash's top bits. */
static inline uint64_t pair_slot(const tok_merges *m, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> m->shift;
}

void tok_merges_put(tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t id)
{
    uint64_t key = pair_key(a, b), i = pair_slot(m, key);
    while (m->slots[i].key != TOK_FREE_PAIR && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    m->slots[i] = (tok_merge){key, rank, id};
}

const tok_merge *tok_merges_get(const tok_merges *m, int32_t a, int32_t b)
{
    uint64_t key = pair_key(a, b), i = pair_slot(m, key);
    for (;;) {
        const tok_merge *s = &m->slots[i];
        if (s->key == key)
            return s;
        if (s->key == TOK_FREE_PAIR)
            return NULL;
        i = (i + 1) & m->mask;
    }
}

int32_t tok_vocab_find(const tokenizer *t, const unsigned char *p, size_t n)
{
    uint64_t i = tok_hash_bytes(p, n) & t->by_bytes_mask;
    for (;; i = (i + 1) & t->by_bytes_mask) {
        const tok_vocab_entry *e = &t->by_bytes[i];
        if (e->id < 0)
            return -1;
        if (e->len == n && memcmp(t->text + e->off, p, n) == 0)
            return e->id;
    }
}

int tok_ids_reserve(tok_ids *out, size_t more)
{
    if (out->cap - out->len >= more)
        return 0;
    if (more > SIZE_MAX / sizeof *out->ids / 2 - out->len)
        return err_set("too many token ids for memory");
    size_t cap = out->cap ? out->cap : 1024;
    while (cap < out->len + more)
        cap *= 2;
    int32_t *grown = realloc(out->ids, sizeof *grown * cap);
    if (!grown)
        return err_set("out of memory for %zu token ids", cap);
    out->ids = grown;
    out->cap = cap;
    return 0;
}

int tok_cache_init(tok_cache *c)
{
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->keys = malloc(CACHE_KEY_BYTES);
    c->ids = malloc(sizeof *c->ids * CACHE_IDS);
    if (!c->slots || !c->keys || !c->ids)
        return err_set("out of memory for the tokenizer's cache");
    c->mask = CACHE_SLOTS - 1;
    c->keys_cap = CACHE_KEY_BYTES;
    c->ids_cap = CACHE_IDS;
    return 0;
}

void tok_cache_free(tok_cache *c)
{
    free(c->slots);
    free(c->keys);
    free(c->ids);
}

/* The cached ids of the n bytes at p (hash h, not 0) appended to out:
 * 1; 0 when they are not cached; -1 when out cannot grow. */
static int cache_get(tok_cache *c, uint32_t h, const unsigned char *p, size_t n, tok_ids *out)
{
    for (uint32_t i = h & c->mask;; i = (i + 1) & c->mask) {
        const tok_cache_slot *s = &c->slots[i];
        if (s->hash == 0)
            return 0;
        if (s->hash != h || s->key_len != n || memcmp(c->keys + s->key, p, n) != 0)
            continue;
        if (tok_ids_reserve(out, s->n_ids) < 0)
            return -1;
        memcpy(out->ids + out->len, c->ids + s->ids, sizeof *out->ids * s->n_ids);
        out->len += s->n_ids;
        return 1;
    }
}

static void cache_put(tok_cache *c, uint32_t h, const unsigned char *p, size_t n,
                      const int32_t *ids, size_t k)
{
    if (c->used + 1 > (c->mask + 1) / 2 || n > c->keys_cap - c->keys_len ||
        k > c->ids_cap - c->ids_len) {
        memset(c->slots, 0, sizeof *c->slots * (c->mask + 1));
        c->used = c->keys_len = c->ids_len = 0;
    }
    uint32_t i = h & c->mask;
    while (c->slots[i].hash != 0)
        i = (i + 1) & c->mask;
    memcpy(c->keys + c->keys_len, p, n);
    memcpy(c->ids + c->ids_len, ids, sizeof *ids * k);
    c->slots[i] = (tok_cache_slot){h, c->keys_len, c->ids_len, (uint8_t)n, (uint8_t)k};
    c->keys_len += (uint32_t)n;
    c->ids_len += (uint32_t)k;
    c->used++;
}

/* Room in the scratch for a pre-token of n bytes (symbols), and for the
 * heap: n - 1 pairs at the start and at most two more for each of the
 * n - 1 merges. */
static int scratch_fit(tokenizer *t, size_t n)
{
    if (n <= t->scratch_cap)
        return 0;
    size_t cap = t->scratch_cap ? t->scratch_cap : 256;
    while (cap < n)
        cap *= 2;
    if (cap > SIZE_MAX / (3 * sizeof *t->heap))
        return err_set("a pre-token of %zu bytes is too long for memory", n);
    int32_t *sym = realloc(t->sym, sizeof *sym * cap);
    t->sym = sym ? sym : t->sym;
    int32_t *prev = realloc(t->prev, sizeof *prev * cap);
    t->prev = prev ? prev : t->prev;
    int32_t *next = realloc(t->next, sizeof *next * cap);
    t->next = next ? next : t->next;
    tok_heap_item *heap = realloc(t->heap, sizeof *heap * 3 * cap);
    t->heap = heap ? heap : t->heap;
    if (!sym || !prev || !next || !heap)
        return err_set("out of memory for a pre-token of %zu bytes", n);
    t->scratch_cap = cap;
    return 0;
}

static inline bool heap_less(const tok_heap_item *a, const tok_heap_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(tok_heap_item *h, size_t *n, tok_heap_item x)
{
    size_t i = (*n)++;
    while (i > 0 && heap_less(&x, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static tok_heap_item heap_pop(tok_heap_item *h, size_t *n)
{
    tok_heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}

/* Queues the merge of the pair at symbol pos (whose right neighbour is
 * r), if the pair has one. */
static void queue_pair(tokenizer *t, size_t *hn, int32_t pos, int32_t r)
{
    const tok_merge *m = tok_merges_get(&t->merges, t->sym[pos], t->sym[r]);
    if (m)
        heap_push(t->heap, hn, (tok_heap_item){m->rank, (uint32_t)pos, m->id});
}

/* The BPE of n bytes (n > 1) into the symbol list from 0 (sym -1: merged
 * away). */
static void bpe_merge(tokenizer *t, const unsigned char *p, size_t n)
{
    int32_t *sym = t->sym, *prev = t->prev, *next = t->next;
    for (size_t i = 0; i < n; i++) {
        sym[i] = t->byte_id[p[i]];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++)
        queue_pair(t, &hn, (int32_t)i, (int32_t)i + 1);
    while (hn > 0) {
        tok_heap_item top = heap_pop(t->heap, &hn);
        int32_t pos = (int32_t)top.pos, r = next[pos];
        if (sym[pos] < 0 || r < 0)
            continue;
        const tok_merge *m = tok_merges_get(&t->merges, sym[pos], sym[r]);
        if (!m || m->id != top.id) /* a pair that is no longer there */
            continue;
        sym[pos] = top.id;
        sym[r] = -1;
        next[pos] = next[r];
        if (next[r] >= 0)
            prev[next[r]] = pos;
        if (prev[pos] >= 0)
            queue_pair(t, &hn, prev[pos], pos);
        if (next[pos] >= 0)
            queue_pair(t, &hn, pos, next[pos]);
    }
}

/* Appends the symbols left by bpe_merge; returns how many. */
static size_t emit_symbols(const tokenizer *t, tok_ids *out)
{
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = t->next[i])
        out->ids[out->len + k++] = t->sym[i];
    out->len += k;
    return k;
}

int tok_bpe_piece(tokenizer *t, const unsigned char *p, size_t n, tok_ids *out)
{
    if (n == 1 || t->ignore_merges) {
        int32_t id = n == 1 ? t->byte_id[p[0]] : tok_vocab_find(t, p, n);
        if (id >= 0) {
            if (tok_ids_reserve(out, 1) < 0)
                return -1;
            out->ids[out->len++] = id;
            return 0;
        }
    }
    uint32_t h = 0;
    if (n <= TOK_CACHE_MAX_KEY) {
        h = (uint32_t)tok_hash_bytes(p, n) | 1; /* never 0, which marks a free slot */
        int hit = cache_get(&t->cache, h, p, n, out);
        if (hit != 0)
            return hit < 0 ? -1 : 0;
    }
    if (scratch_fit(t, n) < 0 || tok_ids_reserve(out, n) < 0)
        return -1;
    bpe_merge(t, p, n);
    size_t k = emit_symbols(t, out);
    if (n <= TOK_CACHE_MAX_KEY)
        cache_put(&t->cache, h, p, n, out->ids + out->len - k, k);
    return 0;
}
