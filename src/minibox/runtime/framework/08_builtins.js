// minibox framework, part 8: built-in component semantics shared by every view (switch, checkbox,
// radio, form, ...). `mbBuiltinEvent(node, ev)` returns a result to stop normal dispatch, or null.
"use strict";

function mbBuiltinEvent(node, ev) {
  return null;
}
