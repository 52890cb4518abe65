/** A tool call's input: Bash commands as a command line, anything else as JSON. */
export function ToolInput({ name, input }: { name: string; input: unknown }) {
  const obj = (input ?? {}) as Record<string, unknown>;
  if (name.toLowerCase() === 'bash' && typeof obj.command === 'string') {
    const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'command'));
    return (
      <div class="tool-input">
        <pre class="code">
          <span class="prompt" aria-hidden="true">
            ${' '}
          </span>
          {obj.command}
        </pre>
        {Object.keys(rest).length > 0 && <pre class="code code-dim">{JSON.stringify(rest, null, 2)}</pre>}
      </div>
    );
  }
  return <pre class="code tool-input">{JSON.stringify(input, null, 2)}</pre>;
}
