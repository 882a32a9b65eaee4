Page({
  logAll() {
    console.log('plain log', 42, { a: [1, 2] })
    console.info('an info')
    console.warn('a warning')
    console.error('an error')
    console.debug('a debug')
  },
  boom() {
    throw new Error('boom from tap')
  },
  html() {
    console.log('<img src=x onerror="window.__pwned=1"><b>bold</b>')
  },
  huge() {
    console.warn('x'.repeat(50000))
  },
  flood() {
    for (let i = 0; i < 1200; i++) console.log('line ' + i)
  }
})
