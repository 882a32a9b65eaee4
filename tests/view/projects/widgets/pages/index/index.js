Page({
  data: {
    msg: '<img src=x onerror="window.__pwned=1">',
    cls: '" onmouseover="window.__pwned=2',
    payloads: ['</script><script>window.__pwned=3</script>', '{{"{{"}}constructor}}', '<b>bold</b>'],
    name: '',
    cities: ['Beijing', 'Shanghai', 'Shenzhen'],
    cityIndex: 0,
    rows: [1, 2, 3, 4, 5, 6, 7, 8],
    into: '',
    current: 0,
    badSrc: 'javascript:window.__pwned=4',
    html: '<p class="p">Hi <b>there</b><script>window.__pwned=5</script><img src=x onerror="window.__pwned=6"><iframe src="https://evil.example"></iframe><a href="javascript:window.__pwned=7">link</a></p>',
    nodes: [{ name: 'div', attrs: { id: 'x', style: 'color:red;background:url(https://evil.example/t)', onclick: 'window.__pwned=8' },
              children: [{ type: 'text', text: 'node text' }, { name: 'svg', children: [{ type: 'text', text: 'gone' }] }] }],
    overlay: 'color: blue; font-size: 20rpx; background: url(https://evil.example/track?d=1)',
    navUrl: '/pages/other/other?from=nav',
    navType: 'navigate',
    autoplay: false,
    interval: 5000,
    refreshing: false,
    showWebview: false,
    webSrc: '',
    events: [],
    scrolls: 0
  },
  log(e) {
    const events = this.data.events.concat([{ type: e.type, detail: e.detail, id: e.currentTarget.id, dataset: e.currentTarget.dataset }])
    this.setData({ events })
  },
  onInput(e) {
    this.log(e)
    return e.detail.value.toUpperCase()
  },
  onPick(e) {
    this.log(e)
    this.setData({ cityIndex: e.detail.value })
  },
  onPageScroll(e) {
    this.setData({ pageScrollTop: e.scrollTop })
  },
  onReachBottom() {
    this.setData({ reachedBottom: (this.data.reachedBottom || 0) + 1 })
  },
  onRefresh(e) {
    this.log(e)
    this.setData({ refreshing: true })
    setTimeout(() => this.setData({ refreshing: false }), 50)
  },
  onScroll(e) {
    this.setData({ scrolls: this.data.scrolls + 1, lastScroll: e.detail })
  }
})
