// The external scanner of the qdx grammar: quantities.
//
// qdx.pest reads a quantity as one compound token, `number [ \t]* unit`, where a unit atom is
// `%` or a letter (or µ, °) then letters, digits and `_`, never one of the words that may follow
// a quantity (`and`, `log`, `for`, ...). A regular expression cannot say "not these words", and
// a unit lexed as an ordinary token could take a name from the next line or sit after a
// comment. So this scanner does both halves:
//
// - QUANTITY_NUMBER: a number, returned only when a unit atom follows on the same line (looked
//   at, not consumed); otherwise the ordinary `number` token of the grammar takes it;
// - UNIT: the unit right after such a number: `mL`, `uL/min`, `kg*m/s^2`, `s^-1`, `%`;
// - COUNT: qdx.pest's `integer`, digits not followed by `.` and a digit, where a count is
//   expected. Where a quantity could start too (`retry 2 backoff 5 s`: a count, or the name
//   `retry` and then a limit `2 backoff`), the count wins, as qdx.pest tries it first.
//
// It keeps no state.

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum TokenType { QUANTITY_NUMBER, UNIT, COUNT, ERROR_SENTINEL };

void *tree_sitter_qdx_external_scanner_create(void) { return NULL; }

void tree_sitter_qdx_external_scanner_destroy(void *payload) { (void)payload; }

unsigned tree_sitter_qdx_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}

void tree_sitter_qdx_external_scanner_deserialize(void *payload, const char *buffer,
                                                  unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_digit(int32_t c) { return c >= '0' && c <= '9'; }

static bool is_alpha(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool is_ident_char(int32_t c) { return is_alpha(c) || is_digit(c) || c == '_'; }

// qdx.pest's `unit_stop`: the reserved words and the words that may follow a quantity.
static const char *const UNIT_STOP[] = {
    "and", "or",   "not",    "in",  "within", "true", "false",
    "log", "then", "weight", "for", "after",  "at",
};

static void advance(TSLexer *lexer) { lexer->advance(lexer, false); }

// The word of letters, digits and `_` at the lexer (up to 15 characters kept; a longer word is
// never a stop word), consumed.
static bool word_is_unit_stop(TSLexer *lexer) {
  char word[16];
  size_t len = 0;
  bool long_word = false;
  while (is_ident_char(lexer->lookahead)) {
    if (len < sizeof word - 1) {
      word[len++] = (char)lexer->lookahead;
    } else {
      long_word = true;
    }
    advance(lexer);
  }
  word[len] = '\0';
  if (long_word) return false;
  for (size_t i = 0; i < sizeof UNIT_STOP / sizeof UNIT_STOP[0]; i++) {
    if (strcmp(word, UNIT_STOP[i]) == 0) return true;
  }
  return false;
}

// A unit atom at the lexer: `%`, or µ / ° then letters, digits and `_`, or a letter then
// letters, digits and `_` that is not a stop word. Consumes what it looked at.
static bool scan_unit_atom(TSLexer *lexer) {
  int32_t c = lexer->lookahead;
  if (c == '%') {
    advance(lexer);
    return true;
  }
  if (c == 0xB5 /* µ */ || c == 0xB0 /* ° */) {
    advance(lexer);
    while (is_ident_char(lexer->lookahead)) advance(lexer);
    return true;
  }
  if (is_alpha(c)) return !word_is_unit_stop(lexer);
  return false;
}

// `^2`, `^-1` after an atom: consumed and marked as the end of the unit when complete. False
// when a `^` has no exponent (`m^/s`): the unit ends before it, and nothing after it may join
// the unit (qdx.pest rejects the text, so tree-sitter must not read on past the `^`).
static bool scan_unit_power(TSLexer *lexer) {
  if (lexer->lookahead != '^') return true;
  advance(lexer);
  if (lexer->lookahead == '-') advance(lexer);
  if (!is_digit(lexer->lookahead)) return false;
  while (is_digit(lexer->lookahead)) advance(lexer);
  lexer->mark_end(lexer);
  return true;
}

static bool scan_unit(TSLexer *lexer) {
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t') lexer->advance(lexer, true);
  if (!scan_unit_atom(lexer)) return false;
  lexer->mark_end(lexer);
  bool more = scan_unit_power(lexer);
  // `/` or `*` continue the unit only when an atom follows at once: `10 mL/2` is 10 mL over 2.
  while (more) {
    int32_t c = lexer->lookahead;
    if (c != '/' && c != '*') break;
    advance(lexer);
    if (!scan_unit_atom(lexer)) break;
    lexer->mark_end(lexer);
    more = scan_unit_power(lexer);
  }
  lexer->result_symbol = UNIT;
  return true;
}

// A number (qdx.pest's `number`, the longest match) followed on the same line by a unit atom,
// or, where `count` is valid, a count. The lexer is on a digit.
static bool scan_number(TSLexer *lexer, bool count, bool quantity) {
  while (is_digit(lexer->lookahead)) advance(lexer);
  lexer->mark_end(lexer);
  if (lexer->lookahead == '.') {
    advance(lexer);
    if (count && !is_digit(lexer->lookahead)) {
      lexer->result_symbol = COUNT;
      return true;
    }
    if (!quantity) return false;
    // `1..2` is a range and `1.` no number: without a digit the dot is not ours, and nothing
    // after it can make this number a quantity's.
    if (!is_digit(lexer->lookahead)) return false;
    while (is_digit(lexer->lookahead)) advance(lexer);
    lexer->mark_end(lexer);
  } else if (count) {
    lexer->result_symbol = COUNT;
    return true;
  }
  if (!quantity) return false;
  if (lexer->lookahead == 'e' || lexer->lookahead == 'E') {
    advance(lexer);
    if (lexer->lookahead == '+' || lexer->lookahead == '-') advance(lexer);
    if (is_digit(lexer->lookahead)) {
      while (is_digit(lexer->lookahead)) advance(lexer);
      lexer->mark_end(lexer);
    } else {
      // No exponent after all: the `e` starts the unit (`1e`, `1em`; `e` alone in `1e-x`), and
      // no stop word starts with `e`.
      lexer->result_symbol = QUANTITY_NUMBER;
      return true;
    }
  }
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t') advance(lexer);
  int32_t c = lexer->lookahead;
  if (c == '%' || c == 0xB5 || c == 0xB0) {
    lexer->result_symbol = QUANTITY_NUMBER;
    return true;
  }
  if (is_alpha(c) && !word_is_unit_stop(lexer)) {
    lexer->result_symbol = QUANTITY_NUMBER;
    return true;
  }
  return false;
}

bool tree_sitter_qdx_external_scanner_scan(void *payload, TSLexer *lexer,
                                           const bool *valid_symbols) {
  (void)payload;
  if (valid_symbols[ERROR_SENTINEL]) return false;
  if (valid_symbols[UNIT]) return scan_unit(lexer);
  bool count = valid_symbols[COUNT];
  bool quantity = valid_symbols[QUANTITY_NUMBER];
  if (!count && !quantity) return false;
  // The scanner runs before the grammar's own whitespace skipping.
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r' ||
         lexer->lookahead == '\n') {
    lexer->advance(lexer, true);
  }
  if (!is_digit(lexer->lookahead)) return false;
  return scan_number(lexer, count, quantity);
}
