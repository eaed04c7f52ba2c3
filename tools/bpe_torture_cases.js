// Torture inputs for the GPT-2 BPE tokenizer. Each case is encoded on its own
// by the reference (see gen_bpe_fixtures.js), so pre-tokenisation effects at
// the start and end of a text (e.g. trailing whitespace) are covered too.
'use strict';

const s = (str) => Buffer.from(str, 'utf8');
const b = (...bytes) => Buffer.from(bytes);
const cat = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? s(p) : p)));
const cp = (...codes) => s(String.fromCodePoint(...codes));

module.exports = [
  { name: 'empty', bytes: s('') },
  { name: 'single_space', bytes: s(' ') },
  { name: 'single_newline', bytes: s('\n') },
  { name: 'single_letter', bytes: s('a') },
  { name: 'single_apostrophe', bytes: s("'") },
  { name: 'single_comma', bytes: s(',') },
  { name: 'ascii_sentence', bytes: s('Hello, world! This is a test of the GPT-2 tokenizer.') },
  {
    name: 'contractions',
    bytes: s("'s it's IT'S 'S we'll WE'LL they've I'm he'd don't 's's ''s 'll'll x'sy ' s 'ss 'd'd'd 're've'm 'll"),
  },
  { name: 'contractions_after_space', bytes: s("  's\t'll\n'd  'm ''re '\u00a0's 'ẞ 'ſ") },
  { name: 'contraction_at_end', bytes: s("the cat's") },
  { name: 'contraction_alone_end', bytes: s("word '") },
  { name: 'whitespace_runs', bytes: s('a  b   c\t\td\n\ne \n \n  \t \r\n f   ') },
  { name: 'only_whitespace', bytes: s('   \n\n\t  ') },
  { name: 'trailing_newlines', bytes: s('line1\nline2\n\n\nline3\r\n\r\nend\n\n') },
  { name: 'spaces_before_words', bytes: s('   hello   world  ') },
  { name: 'tabs_before_letters', bytes: s('\thello\t\tworld\t 1\t\t2') },
  {
    name: 'js_whitespace',
    bytes: s('a\u00a0b\u1680c\u2000\u2001\u2002d\u2003e\u2009f\u200ag\u2028h\u2029i\u202fj\u205fk\u3000l\ufeffm \u00a0 n\u000bo\u000cp\u00a0\u00a0'),
  },
  {
    name: 'non_js_whitespace',
    bytes: s('a\u0085b \u0085 c\u180ed\u200be\u200cf\u200dg\u2060h \u0085\u0085 x\u001cy\u001dz\u001e\u001f'),
  },
  { name: 'bom_start', bytes: s('\ufeffHello BOM') },
  { name: 'bom_only', bytes: s('\ufeff') },
  { name: 'bom_runs', bytes: s('x\ufeff\ufeff y \ufeff\ufeffz\ufeff') },
  {
    name: 'emoji',
    bytes: s('I \u2764\ufe0f 🍕! 👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🏳️‍🌈 flag, 🇯🇵 🇺🇸 😀😃😄 ✌🏿🤷‍♀️ 🧑🏻‍🤝‍🧑🏿'),
  },
  { name: 'cjk', bytes: s('日本語のテキスト、中文文本。한국어 텍스트 漢字かな交じり文 𠀋𡈽𡌛 ｶﾀｶﾅ') },
  { name: 'combining', bytes: s('e\u0301 a\u0300\u0320 Z\u0351\u0352\u0353 क्षि ñ vs n\u0303, Åström \u0301start') },
  { name: 'rtl', bytes: s('שָׁלוֹם עולם, مرحبا بالعالم! العربية ١٢٣ and English mixed עם \u200fRLM\u200e') },
  {
    name: 'digits',
    bytes: s('123 4567 89,000 3.14159 1e10 ١٢٣٤ ۴۵۶ ０１２３ ½ ² Ⅻ 007 0x1F 12abc abc12 ๑๒๓ ߁߂'),
  },
  { name: 'endoftext_literal', bytes: s('<|endoftext|>') },
  { name: 'endoftext_in_text', bytes: s('text<|endoftext|>more <|endoftext|> <|endoftext|>\n') },
  {
    name: 'long_words',
    bytes: s('a'.repeat(300) + ' Pneumonoultramicroscopicsilicovolcanoconiosis ' + 'supercalifragilistic'.repeat(20) +
      ' ' + 'ab'.repeat(200) + ' ' + '12345'.repeat(50)),
  },
  {
    name: 'punctuation_commas',
    bytes: s('"a","b",,"c" ],[ \'],[\' ",," ,,, ,,,,,,  "],"x" }," ),"  .",", .,, \',\' ",\'",",\',\'"\n' +
      '{"key": "value", "list": ["a","b",\'c\'],"n":1,"m":[1,2],[3]}\n!!! ??? ... --- *** ,.;:!? ...,,,'),
  },
  { name: 'json_lines', bytes: s('[{"id":1,"t":"x"},{"id":2,"t":"y"}]\n["",""," ","\\"",","]') },
  { name: 'code', bytes: s('def f(x):\n    return x**2  # comment\n\tif (a && b) { c++; }\n\n\n    \n') },
  {
    name: 'unicode_15_to_17_letters',
    bytes: cat(cp(0x11f04, 0x11f05, 0x11f06), ' ', cp(0x31350, 0x31351), ' ', cp(0x1e4d0, 0x1e4d1), ' ',
      cp(0x11f50, 0x11f51), ' ', cp(0x1e4f0, 0x1e4f1), ' x', cp(0x0c5c), 'y ', cp(0x1ccf0, 0x1ccf1), 'z'),
  },
  {
    name: 'mixed_scripts',
    bytes: s('Ελληνικά Русский язык हिन्दी ภาษาไทยไม่มีช่องว่าง ქართული Հայերեն አማርኛ ᚠᚢᚦ 𐌰𐌱 Ǆǅǆ'),
  },
  { name: 'controls_and_nul', bytes: b(0x61, 0x00, 0x62, 0x01, 0x1f, 0x7f, 0x20, 0x63, 0x00, 0x00, 0x0a, 0x00) },
  { name: 'replacement_char_literal', bytes: s('\ufffd literal \ufffd\ufffd') },
  { name: 'extreme_code_points', bytes: cat(cp(0x10ffff), ' ', cp(0xe000), cp(0xffff), ' ', cp(0xfffe), 'a', cp(0x80)) },
  { name: 'invalid_lone_continuation', bytes: cat('a', b(0x80), 'b', b(0xbf), ' c', b(0x80, 0x80, 0x80), ' d') },
  { name: 'invalid_truncated', bytes: cat(b(0xe6, 0x97), ' x ', b(0xf0, 0x9f, 0x98), 'end', b(0xc3)) },
  { name: 'invalid_truncated_at_end', bytes: cat('ok ', b(0xf0, 0x9f, 0x98)) },
  {
    name: 'invalid_overlong',
    bytes: cat(b(0xc0, 0xaf), ' ', b(0xe0, 0x80, 0xaf), ' ', b(0xf0, 0x80, 0x80, 0xaf), ' ', b(0xc1, 0xbf), ' ',
      b(0xe0, 0x9f, 0xbf)),
  },
  {
    name: 'invalid_surrogates',
    bytes: cat(b(0xed, 0xa0, 0x80), ' ', b(0xed, 0xbf, 0xbf), ' ', b(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80), 'x'),
  },
  {
    name: 'invalid_ff_and_high',
    bytes: cat(b(0xff, 0xfe), ' text ', b(0xff), ' ', b(0xf5, 0x80, 0x80, 0x80), ' ', b(0xf4, 0x90, 0x80, 0x80), ' ',
      b(0xf8, 0x88, 0x80, 0x80, 0x80)),
  },
  {
    name: 'invalid_mixed_with_valid',
    bytes: cat('Grüße ', b(0xc3), 'x ', b(0xe2, 0x82), '€ 日', b(0x9c), '本 ', b(0xf0, 0x9f), '😀', b(0xa0, 0x80),
      ' \ufeff', b(0xef, 0xbb), '\n'),
  },
];
