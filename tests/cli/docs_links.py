# The links of Markdown files, for cli.docs (docs_commands.sh): every
# relative link must name a file or directory that is there and, with a
# #fragment, a heading of that file (GitHub's anchors: lower case, spaces
# as hyphens, punctuation but hyphens and underscores dropped). Prints one
# line a broken link and exits 1 when there is one.
import os, re, sys

def anchors(path):
    out, fence = set(), False
    for line in open(path, encoding='utf-8'):
        if line.startswith('```'):
            fence = not fence
        m = re.match(r'^#+ (.*)$', line)
        if m and not fence:
            slug = re.sub(r'[^\w\- ]', '', m.group(1).strip().lower()).replace(' ', '-')
            out.add(slug)
    return out

bad = 0
for path in sys.argv[1:]:
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'`[^`\n]*`', '', text)  # no links inside code
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'^[a-z]+:', target):
            continue
        file, _, frag = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(dest):
            print(f'{path}: a link to {target}: no {dest}')
            bad = 1
        elif frag and (not dest.endswith('.md') or frag not in anchors(dest)):
            print(f'{path}: a link to {target}: no heading #{frag} in {dest}')
            bad = 1
sys.exit(bad)
