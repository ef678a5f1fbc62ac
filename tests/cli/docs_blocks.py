# The code blocks of Markdown files, for cli.docs (docs_commands.sh): prints
# "FILE:LINE<tab>BLOCK<tab>TEXT" for every non-blank line of every fenced or
# indented block, a line ending in a backslash joined with the next ones.
# Indented blocks inside list items count from the item's own indentation.
import re, sys
bid = 0
for path in sys.argv[1:]:
    lines = open(path, encoding='utf-8').read().split('\n')
    i, base, prev_blank, fence = 0, 0, True, None
    def emit(block):
        global bid
        bid += 1
        j = 0
        while j < len(block):
            n, text = block[j]
            while text.endswith('\\') and j + 1 < len(block):
                j += 1
                text = text[:-1].rstrip() + ' ' + block[j][1].strip()
            if text.strip():
                print(f'{path}:{n}\t{bid}\t{text.strip()}')
            j += 1
    while i < len(lines):
        l = lines[i]
        m = re.match(r'^( *)(```+|~~~+)(.*)$', l)
        if m:
            ind, mark = len(m.group(1)), m.group(2)
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(mark):
                block.append((i + 1, lines[i][ind:] if lines[i][:ind].strip() == '' else lines[i]))
                i += 1
            emit(block)
            i += 1; prev_blank = False
            continue
        ind = len(l) - len(l.lstrip(' '))
        if l.strip() and prev_blank and ind >= base + 4:
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(' ')) >= base + 4):
                block.append((i + 1, lines[i][base + 4:]))
                i += 1
            while block and not block[-1][1].strip(): block.pop()
            emit(block)
            prev_blank = True
            continue
        if l.strip():
            if re.match(r'^\s*([-*+]|\d+\.) ', l): base = ind + (len(re.match(r'^\s*([-*+]|\d+\.) ', l).group(0)) - ind)
            elif ind < base: base = 0 if ind == 0 else ind
            prev_blank = False
        else:
            prev_blank = True
        i += 1
