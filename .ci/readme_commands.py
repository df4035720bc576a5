"""Print the README's Quick-start command N (0: the demo, 1: the tests, 2: the bundled recordings), exactly as
written there.

.ci/run spells out the commands it runs and checks them against these, so the README cannot drift from
what is tested. Standard library only.
"""

import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parent.parent / "README.md"
quick_start = readme.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```bash\n(.*?)```", quick_start, flags=re.DOTALL)
print(blocks[int(sys.argv[1])].strip())
